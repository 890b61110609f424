"""Is the posterior's uncertainty honest? Coverage and error ranking on FMD, with truth.

For every FMD dev view, frame 0 is denoised by a trained model (100 posterior samples, all
kept); the truth is the *unrounded* mean of the other 49 raw frames (frame 0 is the input:
leaving it out keeps the truth's error independent of the input's noise), and the truth's
own standard error ``√(var(frames) / 49)`` widens every interval (see
:mod:`napari_divnoising.core.uncertainty.intervals`). Printed, pooled over the views'
pixels, before and after the model's uncertainty calibration:

- the observed coverage of the central 50/80/90/95% intervals, from the samples' empirical
  quantiles and from MMSE ± z·σ;
- Spearman(σ, |MMSE − truth|), its oracle ceiling (errors drawn from σ itself and the
  truth's noise) and their ratio;
- the same Gaussian coverage against the rounded ``viewNN_gt.tif`` (a wrong check, shown
  to say why it is wrong).

The calibration is the model's own (estimated after training on its held-back validation
planes); a model saved without one is calibrated here on the same held-back planes, which
are recovered from its training seed. ``--plot`` draws the reliability diagram.

Usage (from the repository root; the data lives in ../shared/data)::

    python benchmarks/bench_fmd_quality.py --minutes 15 --no-bm3d --no-map \\
        --save-model fmd15.divnoising                      # the default 15-minute model
    python benchmarks/bench_uncertainty.py --model fmd15.divnoising \\
        --plot docs/images/reliability.png --json uncertainty.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_divnoising.core.events import run_generator
from napari_divnoising.core.model_files.bundle import load_model
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.training.lazy_planes import prepare_planes
from napari_divnoising.core.training.patches import split_planes
from napari_divnoising.core.training.uncertainty_calibration import iter_calibrate_uncertainty
from napari_divnoising.core.uncertainty.intervals import (
    COVERAGE_LEVELS,
    error_ranking,
    gaussian_coverage,
    oracle_ranking,
    quantile_coverage,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fmd_confocal_bpae_b"
#: Levels of the reliability diagram: 5%, 10%, … 95%.
DIAGRAM_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the trained model file")
    parser.add_argument("--samples", type=int, default=100, help="posterior samples per view")
    parser.add_argument("--views", type=int, default=10, help="use views 1..N (≤ 10)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--plot", type=Path, help="write the reliability diagram here (PNG)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--tta",
        action="store_true",
        help="pool the 8 rotations/flips (samples/8 each, the same number decoded): σ then "
        "includes the spread between augmentations; quantile coverage from the kept samples "
        "of the first augmentation only",
    )
    return parser.parse_args(argv)


def load_view(folder: Path, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Input frame, unrounded truth (other frames' mean), its standard error, rounded GT."""
    frames = tifffile.imread(folder / f"view{index:02d}_raw.tif").astype(np.float64)
    others = frames[1:]
    truth = others.mean(axis=0)
    stderr = np.sqrt(others.var(axis=0, ddof=1) / len(others))
    rounded = tifffile.imread(folder / f"view{index:02d}_gt.tif").astype(np.float64)
    return frames[0].astype(np.float32), truth, stderr, rounded


def held_back_planes(model, noisy: list[np.ndarray]) -> list[np.ndarray]:
    """The validation planes the model's training held back (from its recorded seed)."""
    config = model.training_config
    planes, _ = prepare_planes(
        noisy, patch_size=config.patch_size, size_multiple=model.size_multiple
    )
    seed = int(model.provenance["seed"])
    split = split_planes(
        planes,
        train_fraction=config.train_fraction,
        patch_size=config.patch_size,
        rng=np.random.default_rng([seed, 0]),
    )
    if split.validation_is_training:
        raise SystemExit("the model's training held nothing back: it cannot be calibrated")
    return [np.asarray(plane) for plane in split.validation]


def calibration_of(model, noisy: list[np.ndarray]):
    if model.uncertainty_calibration is not None:
        print(f"calibration: the model's own — {model.uncertainty_calibration.describe()}")
        return model.uncertainty_calibration
    start = time.perf_counter()
    planes = held_back_planes(model, noisy)
    calibration = run_generator(
        iter_calibrate_uncertainty(model, planes, seed=int(model.provenance["seed"]))
    )
    print(
        f"calibration: estimated here on {len(planes)} held-back plane(s) in "
        f"{time.perf_counter() - start:.0f} s — {calibration.describe()}",
        flush=True,
    )
    return calibration


class Pooled:
    """Coverage and errors pooled over the views' pixels, for one uncertainty scale."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.quantile: dict[float, list[float]] = {}
        self.gaussian: dict[float, list[float]] = {}
        self.rounded: dict[float, list[float]] = {}
        self.sigmas: list[np.ndarray] = []
        self.errors: list[np.ndarray] = []
        self.stderrs: list[np.ndarray] = []

    def add(self, samples, mmse, raw_sigma, truth, stderr, rounded, levels) -> None:
        sigma = self.scale * raw_sigma
        found = [
            (
                self.quantile,
                quantile_coverage(truth, samples, levels, truth_stderr=stderr, scale=self.scale),
            ),
            (
                self.gaussian,
                gaussian_coverage(truth, mmse, sigma, levels, truth_stderr=stderr),
            ),
            (self.rounded, gaussian_coverage(rounded, mmse, sigma, levels)),
        ]
        for table, coverage in found:
            for level, value in coverage.items():
                table.setdefault(level, []).append(value)
        self.sigmas.append(sigma.ravel())
        self.errors.append(np.abs(mmse - truth).ravel())
        self.stderrs.append(stderr.ravel())

    def summary(self) -> dict:
        sigma, error, stderr = (
            np.concatenate(v) for v in (self.sigmas, self.errors, self.stderrs)
        )
        ranking = error_ranking(sigma, error)
        ceiling = oracle_ranking(sigma, truth_stderr=stderr)
        return {
            "scale": self.scale,
            "quantile": {k: float(np.mean(v)) for k, v in self.quantile.items()},
            "gaussian": {k: float(np.mean(v)) for k, v in self.gaussian.items()},
            "rounded_gt": {k: float(np.mean(v)) for k, v in self.rounded.items()},
            "spearman": ranking,
            "oracle_spearman": ceiling,
            "spearman_ratio": ranking / ceiling,
            "mean_sigma": float(sigma.mean()),
            "rmse": float(np.sqrt(np.mean(error**2))),
            "mean_truth_stderr": float(stderr.mean()),
        }


def print_summary(name: str, summary: dict) -> None:
    print(f"\n{name} (σ × {summary['scale']:.3f}; mean σ {summary['mean_sigma']:.3f} ADU,")
    print(
        f"  RMSE of the MMSE {summary['rmse']:.3f} ADU, truth's standard error "
        f"{summary['mean_truth_stderr']:.3f} ADU)"
    )
    print("  interval   quantiles   MMSE ± z·σ   (against rounded GT)")
    for level in COVERAGE_LEVELS:
        print(
            f"  {level:6.0%}     {summary['quantile'][level]:8.1%}   "
            f"{summary['gaussian'][level]:10.1%}   ({summary['rounded_gt'][level]:.1%})"
        )
    print(
        f"  Spearman(σ, |MMSE − truth|) {summary['spearman']:.3f}; oracle ceiling "
        f"{summary['oracle_spearman']:.3f}; ratio {summary['spearman_ratio']:.1%}"
    )


def plot(path: Path, summaries: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.6, 4.4), dpi=120)
    axes.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    styles = {"quantile": "o-", "gaussian": "s--"}
    colours = {"raw": "tab:orange", "calibrated": "tab:blue"}
    for name, summary in summaries.items():
        for kind, style in styles.items():
            levels = sorted(summary[kind])
            axes.plot(
                levels,
                [summary[kind][level] for level in levels],
                style,
                ms=3,
                color=colours[name],
                label=f"{name}, {'sample quantiles' if kind == 'quantile' else 'MMSE ± z·σ'}",
            )
    axes.set(
        xlabel="nominal coverage of the central interval",
        ylabel="observed coverage (FMD dev views)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(fontsize=7, loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    print(f"reliability diagram: {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    views = [load_view(args.data, index) for index in range(1, args.views + 1)]
    calibration = calibration_of(model, [view[0] for view in views])
    pooled = {"raw": Pooled(1.0), "calibrated": Pooled(calibration.scale)}
    levels = sorted(set(COVERAGE_LEVELS) | set(DIAGRAM_LEVELS))
    start = time.perf_counter()
    for noisy, truth, stderr, rounded in views:
        # With TTA the samples are spread over the 8 views; those of the identity are kept.
        per_view = max(2, -(-args.samples // 8)) if args.tta else args.samples
        prediction = sample_posterior(
            noisy,
            model,
            n_samples=args.samples,
            keep_samples=per_view,
            calibrate_uncertainty=False,
            restore_detail=False,
            tta=args.tta,
        )
        for table in pooled.values():
            table.add(
                prediction.samples,
                prediction.mmse,
                prediction.uncertainty,
                truth,
                stderr,
                rounded,
                levels,
            )
    seconds = (time.perf_counter() - start) / len(views)
    print(f"sampling and scoring: {seconds:.1f} s per view; CPU {platform.processor()}")
    summaries = {name: table.summary() for name, table in pooled.items()}
    for name, summary in summaries.items():
        print_summary(name, summary)
    if args.plot is not None:
        plot(args.plot, summaries)
    if args.json is not None:
        record = {
            "model": str(args.model),
            "calibration": calibration.to_dict(),
            "samples": args.samples,
            "views": args.views,
            "cpu": platform.processor() or platform.machine(),
            **summaries,
        }
        args.json.write_text(json.dumps(record, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
