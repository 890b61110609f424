"""Speed and memory of posterior sampling, MAP estimation and reduced-precision decoding.

Prints one table:

- samples/s for a 512×512 image (100 samples), bfloat16 autocast (where native) and float32;
- seconds for the MAP estimate of 512×512 from 100 samples;
- peak memory (resident set size) of a 4096×4096 prediction with 25 and with 100 samples,
  each in a fresh process, to show that it does not depend on the number of samples;
- with ``--model`` (a trained bundle) and the shared FMD data: PSNR of the MMSE decoded in
  float32 and in bfloat16 against the ground truth, and their difference.

Speed does not depend on training, so an untrained reference-size network (depth 2,
32 filters, 64 latent channels) is used for speed and memory.

Usage::

    python benchmarks/bench_inference.py [--threads 2] [--memory-size 4096]
        [--memory-samples 25 100] [--model MODEL.divnoising]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
from napari_divnoising.core.model.network import DivNoisingVAE
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.prediction import runtime as _runtime
from napari_divnoising.core.prediction.mean_shift import estimate_map
from napari_divnoising.core.prediction.sampling import sample_posterior

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fmd_confocal_bpae_b"


def reference_model() -> TrainedModel:
    config = NetworkConfig()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = DivNoisingVAE(**config.network_kwargs()).eval()
    return TrainedModel(
        network=network,
        network_config=config,
        training_config=TrainingConfig(),
        data_mean=12.0,
        data_std=10.0,
        gaussian_sigma=5.0,
    )


def test_image(size: int) -> np.ndarray:
    raw = DATA / "view01_raw.tif"
    if raw.is_file() and size <= 512:
        import tifffile

        return tifffile.imread(raw)[0, :size, :size].astype(np.float32)
    rng = np.random.default_rng(0)
    return rng.poisson(12.0, (size, size)).astype(np.float32)


def rss_bytes() -> int:
    """Peak resident set size of this process, in bytes."""
    # VmHWM belongs to this program; ru_maxrss would also count the parent's peak, which
    # Linux carries over through fork and exec.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child_memory(size: int, n_samples: int) -> None:
    """Run one large prediction and print its peak RSS as JSON (called in a subprocess)."""
    model = reference_model()
    image = test_image(size)
    baseline = rss_bytes()
    start = time.perf_counter()
    result = sample_posterior(image, model, n_samples=n_samples, device="cpu")
    seconds = time.perf_counter() - start
    assert np.isfinite(result.mmse).all()
    print(json.dumps({"peak": rss_bytes(), "baseline": baseline, "seconds": seconds}))


def float32_decoding() -> None:
    _runtime.decode_precision = lambda device: torch.float32


def speed(n_samples: int) -> tuple[dict[str, float], np.ndarray]:
    model = reference_model()
    image = test_image(512)
    rates = {}
    samples = None
    original = _runtime.decode_precision
    for label in ("auto", "float32"):
        if label == "float32":
            float32_decoding()
        sample_posterior(image[:64, :64], model, n_samples=2, device="cpu")  # warm-up
        start = time.perf_counter()
        result = sample_posterior(
            image, model, n_samples=n_samples, keep_samples=n_samples, device="cpu"
        )
        rates[label] = n_samples / (time.perf_counter() - start)
        if samples is None:
            samples = result.samples
        _runtime.decode_precision = original
    return rates, samples


def accuracy(model_path: Path, n_samples: int, views: int) -> list[tuple[str, str]]:
    import tifffile

    from napari_divnoising.core.model_files.bundle import load_model
    from napari_divnoising.core.quality.metrics import psnr

    model = load_model(model_path)
    original = _runtime.decode_precision
    gaps, scores = [], {"auto": [], "float32": []}
    for view in range(1, views + 1):
        noisy = tifffile.imread(DATA / f"view{view:02d}_raw.tif")[0].astype(np.float32)
        truth = tifffile.imread(DATA / f"view{view:02d}_gt.tif").astype(np.float32)
        results = {}
        for label in ("auto", "float32"):
            if label == "float32":
                float32_decoding()
            results[label] = sample_posterior(
                noisy, model, n_samples=n_samples, uncertainty=False, device="cpu"
            ).mmse
            _runtime.decode_precision = original
            scores[label].append(psnr(results[label], truth))
        gaps.append(np.sqrt(np.mean((results["auto"] - results["float32"]) ** 2)))
    dtype = _runtime.decode_precision(torch.device("cpu"))
    label = f"MMSE PSNR vs GT, FMD views 1-{views}, {n_samples} samples"
    return [
        (f"{label}, decoder {dtype}", f"{np.mean(scores['auto']):.3f} dB"),
        (f"{label}, decoder float32", f"{np.mean(scores['float32']):.3f} dB"),
        ("RMS difference of the two MMSEs", f"{np.mean(gaps):.4f} ADU"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--memory-size", type=int, default=4096)
    parser.add_argument("--memory-samples", type=int, nargs="*", default=[25, 100])
    parser.add_argument("--model", type=Path, default=None, help="trained bundle for accuracy")
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--child-memory", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child_memory:
        child_memory(*args.child_memory)
        return

    dtype = _runtime.decode_precision(torch.device("cpu"))
    rows = [("torch, threads", f"{torch.__version__}, {args.threads}")]
    rates, samples = speed(args.samples)
    label = f"samples/s, 512×512, {args.samples} samples"
    reduced = dtype != torch.float32
    if reduced:
        rows.append((f"{label}, decoder {dtype}", f"{rates['auto']:.2f}"))
        rows.append((f"{label}, decoder float32", f"{rates['float32']:.2f}"))
    else:  # both runs decoded in float32: report their mean
        rate = (rates["auto"] + rates["float32"]) / 2
        rows.append((f"{label} (float32; bfloat16 not native here)", f"{rate:.2f}"))
    start = time.perf_counter()
    estimate_map(samples)
    seconds = time.perf_counter() - start
    rows.append((f"MAP seconds, 512×512 from {args.samples} samples", f"{seconds:.2f}"))
    for n_samples in args.memory_samples:
        command = [sys.executable, __file__, "--threads", str(args.threads)]
        command += ["--child-memory", str(args.memory_size), str(n_samples)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
        size = f"{args.memory_size}×{args.memory_size}"
        rows.append(
            (
                f"peak RSS, {size}, {n_samples} samples",
                f"{report['peak'] / 2**30:.2f} GiB (after imports "
                f"{report['baseline'] / 2**30:.2f} GiB; {report['seconds']:.0f} s)",
            )
        )
    if args.model is not None and DATA.is_dir() and reduced:
        rows += accuracy(args.model, args.samples, args.views)
    width = max(len(label) for label, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
