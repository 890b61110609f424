"""Bootstrap benchmark on FMD Confocal_BPAE_B (../shared/data): pseudo-GT and noise model.

For frame 0 of each view: the noisy PSNR, the Poisson–Gaussian parameters estimated from
that frame alone against those fitted to the view's 50 frames, the PSNR of the
VST + BM3D pseudo ground truth (mean of two checkerboard passes) and the time of one BM3D
pass per 512×512 plane. Then a Gaussian-mixture noise model fitted to the bootstrap pairs
(blind-spot pseudo ground truth, frame 0) is compared with one fitted to the 50-frame
calibration stacks: their variance curves over the signal range both cover, leaving out
the darkest 10% of the calibration signal.

PSNR = 20·log10(max(gt) − min(gt)) − 10·log10(MSE), gt = viewNN_gt.tif.

    python benchmarks/bench_bootstrap.py          # all: ~3 min of BM3D (idle CPU) + 2 fits
    python benchmarks/bench_bootstrap.py --views 1 2 --gmm-iterations 0   # quick look
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_divnoising.core.noise_model.bootstrap import BOOTSTRAP_PERCENTILES, bootstrap
from napari_divnoising.core.noise_model.calibration import calibration_pairs
from napari_divnoising.core.noise_model.poisson_gaussian import estimate_poisson_gaussian
from napari_divnoising.core.quality.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "fmd_confocal_bpae_b"
TARGET_PSNR = 36.5
TARGET_VARIANCE = 0.20


def _fifty_frame_fit(raw: np.ndarray) -> tuple[float, float]:
    """Least-squares line through (per-pixel mean, per-pixel variance) of the frames."""
    mean = raw.mean(axis=0, dtype=np.float64)
    variance = raw.var(axis=0, ddof=1, dtype=np.float64)
    slope, intercept = np.polyfit(mean.ravel(), variance.ravel(), 1)
    return float(slope), float(intercept)


def bootstrap_table(views: list[int], *, cache: Path | None) -> tuple[list, list]:
    print("view  noisy dB  pseudo-GT dB  gain est/50fr   b est/50fr  s/BM3D pass/512²")
    rows, frames, blind_signals = [], [], []
    for view in views:
        raw = tifffile.imread(DATA / f"view{view:02d}_raw.tif")
        truth = tifffile.imread(DATA / f"view{view:02d}_gt.tif")
        frame = raw[0]
        params = estimate_poisson_gaussian(frame)
        gain_ref, intercept_ref = _fifty_frame_fit(raw)
        cached = None if cache is None else cache / f"bootstrap_view{view:02d}.npz"
        start = time.perf_counter()
        if cached is not None and cached.is_file():
            with np.load(cached) as stored:
                signal, blind, seconds = stored["signal"], stored["blind"], float("nan")
        else:
            result = bootstrap(frame, params=params)
            signal, blind = result.signal, result.pairs.signal[0, 0]
            # Seconds per BM3D pass (two passes per plane) on a 512×512 plane.
            seconds = (time.perf_counter() - start) / 2 * (512 * 512) / frame.size
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, signal=signal, blind=blind)
        row = (psnr(frame, truth), psnr(signal, truth), seconds)
        rows.append(row)
        frames.append(frame)
        blind_signals.append(blind)
        print(
            f"{view:4d}  {row[0]:8.2f}  {row[1]:12.2f}  {params.gain:5.2f}/{gain_ref:5.2f}  "
            f"{params.intercept:6.1f}/{intercept_ref:6.1f}  {seconds:10.1f}",
            flush=True,
        )
    mean = np.nanmean(rows, axis=0)
    print(f"mean  {mean[0]:8.2f}  {mean[1]:12.2f}  {'':27s}  {mean[2]:10.1f}")
    verdict = "PASS" if mean[1] >= TARGET_PSNR else "FAIL"
    print(f"pseudo-GT mean PSNR {mean[1]:.2f} dB (target ≥ {TARGET_PSNR}): {verdict}\n")
    return frames, blind_signals


def compare_noise_models(
    views: list[int], frames, blind_signals, *, n_iterations: int, batch_size: int
) -> bool:
    import torch

    from napari_divnoising.core.noise_model import fit_noise_model

    torch.set_num_threads(2)
    calibration = calibration_pairs([DATA / f"view{view:02d}_raw.tif" for view in views])
    start = time.perf_counter()
    calibrated = fit_noise_model(
        calibration.signal,
        calibration.observation,
        n_iterations=n_iterations,
        batch_size=batch_size,
        seed=0,
    )
    print(f"calibrated GMM ({n_iterations} iterations): {time.perf_counter() - start:.0f} s")
    observation = np.stack(frames)[:, None]
    signal = np.stack(blind_signals)[:, None]
    low, high = BOOTSTRAP_PERCENTILES
    start = time.perf_counter()
    bootstrapped = fit_noise_model(
        signal,
        observation,
        n_iterations=n_iterations,
        batch_size=batch_size,
        seed=0,
        lower_percentile=low,
        upper_percentile=high,
    )
    print(f"bootstrapped GMM ({n_iterations} iterations): {time.perf_counter() - start:.0f} s")
    # Where both models have data; the darkest 10% of the calibration signal left out.
    mean_images = calibration.signal[:, 0]
    floor = float(np.percentile(mean_images, 10))
    low_s = max(floor, calibrated.min_signal, bootstrapped.min_signal)
    high_s = min(calibrated.max_signal, bootstrapped.max_signal)
    inside = mean_images[(mean_images >= low_s) & (mean_images <= high_s)]
    levels = np.unique(np.percentile(inside, np.linspace(0, 100, 21)))
    ratio = bootstrapped.variance(levels) / calibrated.variance(levels)
    print(f"signal range compared: {low_s:.2f}–{high_s:.2f} (10th percentile {floor:.2f})")
    print("signal    var calibrated  var bootstrap  ratio")
    for level, ref, boot, r in zip(
        levels, calibrated.variance(levels), bootstrapped.variance(levels), ratio, strict=True
    ):
        print(f"{level:7.2f}  {ref:14.2f}  {boot:13.2f}  {r:5.3f}")
    worst = float(np.max(np.abs(ratio - 1)))
    verdict = "PASS" if worst <= TARGET_VARIANCE else "FAIL"
    target = f"target ≤ {100 * TARGET_VARIANCE:.0f}%"
    print(f"largest variance deviation {100 * worst:.1f}% ({target}): {verdict}")
    return worst <= TARGET_VARIANCE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument(
        "--gmm-iterations", type=int, default=2000, help="0 skips the GMM comparison"
    )
    parser.add_argument("--gmm-batch", type=int, default=100_000, help="pairs per GMM step")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder to keep pseudo ground truths in between runs (BM3D time then not measured)",
    )
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"data not found at {DATA}", file=sys.stderr)
        return 2
    frames, blind_signals = bootstrap_table(args.views, cache=args.cache)
    if args.gmm_iterations > 0:
        compare_noise_models(
            args.views,
            frames,
            blind_signals,
            n_iterations=args.gmm_iterations,
            batch_size=args.gmm_batch,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
