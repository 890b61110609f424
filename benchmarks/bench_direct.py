"""The direct MMSE against the sampled one on real data: FMD Confocal_BPAE_B, views 01–10.

Loads a trained DivNoising model (train one with ``bench_fmd_quality.py --minutes 15
--save-model MODEL``), trains a direct network from its posterior on the same noisy frames
(frame 0 of each view), then prints per view the PSNR against ``viewNN_gt.tif`` of the
product's MMSE (100 posterior samples over the 8 rotations and flips), the direct MMSE
with and without test-time augmentation, the training time the direct network added and
the seconds per plane of each.

Usage (from the repository root; the data lives in ../shared/data)::

    python benchmarks/bench_fmd_quality.py --minutes 15 --no-bm3d --save-model fmd15.divnoising
    python benchmarks/bench_direct.py fmd15.divnoising --minutes 5
    python benchmarks/bench_direct.py fmd15.divnoising --minutes 5 --samples-per-target 4

Time figures are only comparable within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_divnoising.core.model.config import DirectConfig
from napari_divnoising.core.model.device import select_device
from napari_divnoising.core.model_files.bundle import load_model
from napari_divnoising.core.prediction.direct import direct_mmse
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.quality.metrics import psnr
from napari_divnoising.core.training.direct import DirectTraining

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fmd_confocal_bpae_b"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a trained DivNoising model (.divnoising)")
    parser.add_argument("--minutes", type=float, default=5.0, help="direct network's budget")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps")
    parser.add_argument("--samples-per-target", type=int, default=1)
    parser.add_argument("--depth", type=int, default=DirectConfig().depth)
    parser.add_argument("--filters", type=int, default=DirectConfig().n_filters)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=100, help="samples of the sampled MMSE")
    parser.add_argument("--views", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    return parser.parse_args(argv)


def train_direct(args, model, noisy: np.ndarray):
    config = DirectConfig(
        depth=args.depth,
        n_filters=args.filters,
        time_budget_minutes=args.minutes,
        max_steps=args.steps,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        samples_per_target=args.samples_per_target,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    training = DirectTraining(model, list(noisy), config=config, device="cpu")
    start = time.perf_counter()
    for event in training.run():
        if event.message and training.n_steps % 500 == 0:
            print(f"  {event.message}", flush=True)
    seconds = time.perf_counter() - start
    print(
        f"direct network: {training.n_steps} steps of {config.batch_size}×{config.patch_size}², "
        f"{config.samples_per_target} sample(s) per target, {config.depth} levels of "
        f"{config.n_filters} filters, trained in {seconds:.0f} s "
        f"(best validation {training.best_loss:.4g})",
        flush=True,
    )
    return training.best_network(), seconds


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    print(select_device("cpu").description, f"torch {torch.__version__}", flush=True)
    views = range(1, args.views + 1)
    noisy = np.stack([tifffile.imread(args.data / f"view{i:02d}_raw.tif")[0] for i in views])
    truths = [tifffile.imread(args.data / f"view{i:02d}_gt.tif") for i in views]
    model = load_model(args.model, device="cpu")
    network, train_s = train_direct(args, model, noisy)
    normalisation = {"data_mean": model.data_mean, "data_std": model.data_std}
    rows, times = [], {"sampled": 0.0, "direct": 0.0, "direct, tta": 0.0}
    for index, (image, truth) in enumerate(zip(noisy, truths, strict=True), start=1):
        sampled, seconds = timed(
            sample_posterior, image, model, n_samples=args.samples, uncertainty=False
        )
        times["sampled"] += seconds
        direct, seconds = timed(direct_mmse, image, network, **normalisation)
        times["direct"] += seconds
        direct_tta, seconds = timed(direct_mmse, image, network, tta=True, **normalisation)
        times["direct, tta"] += seconds
        row = [psnr(image.astype(np.float32), truth), psnr(sampled.mmse, truth)]
        row += [psnr(direct, truth), psnr(direct_tta, truth)]
        rows.append(row)
        print(f"view {index:02d}: " + " · ".join(f"{v:.2f}" for v in row), flush=True)
    names = ["noisy", f"MMSE ({args.samples} samples)", "direct", "direct + TTA"]
    mean = np.mean(rows, axis=0)
    print(f"\nPSNR (dB), mean of views 01–{args.views:02d}:")
    for name, value in zip(names, mean, strict=True):
        print(f"  {name:24s} {value:6.2f}  ({value - mean[1]:+.2f} dB vs the sampled MMSE)")
    n = len(rows)
    print(f"\ndirect network's training added {train_s / 60:.1f} min")
    for name, total in times.items():
        speedup = times["sampled"] / total
        print(f"  {name:12s} {total / n:7.3f} s per 512² plane, {speedup:6.1f}× the sampled MMSE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
