"""``divnoising evaluate``: PSNR, SSIM and NRMSE against a ground truth, with SSIM/RSE maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._progress import drive, user_errors


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a prediction against a ground truth",
        description=(
            "Print PSNR (with the ground truth's data range), SSIM (11-pixel Gaussian window, "
            "σ = 1.5) and NRMSE of the prediction — and of the noisy input, if given — and "
            "write the SSIM and RSE maps beside the prediction."
        ),
    )
    parser.add_argument("prediction", type=Path, metavar="PREDICTION", help="denoised TIFF")
    parser.add_argument(
        "ground_truth",
        type=Path,
        metavar="GT",
        help="ground-truth TIFF (a 2D one is compared with every plane of a stack)",
    )
    parser.add_argument("--noisy", type=Path, help="the noisy input, scored for comparison")
    parser.add_argument(
        "--uncertainty",
        type=Path,
        metavar="UNCERTAINTY",
        help="the prediction's uncertainty TIFF (<stem>_uncertainty.tif): also print how often "
        "the ground truth lies in its 50/80/90/95%% intervals",
    )
    parser.add_argument(
        "--out", type=Path, help="folder for the maps (default: beside PREDICTION)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing maps")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> None:
    """Score and write the maps."""
    from ..core.io import read_image, write_tiff
    from ..core.outputs import plan_outputs
    from ..core.quality.recipe import iter_quality_control

    folder = arguments.out or arguments.prediction.parent
    stem = arguments.prediction.stem
    maps = {"ssim": folder / f"{stem}_ssim_map.tif", "rse": folder / f"{stem}_rse_map.tif"}
    inputs = [arguments.prediction, arguments.ground_truth]
    inputs += [path for path in (arguments.noisy, arguments.uncertainty) if path is not None]
    with user_errors():
        plan_outputs(
            [(str(arguments.prediction), path) for path in maps.values()],
            inputs=inputs,
            overwrite=arguments.overwrite,
        )
        truth = read_image(arguments.ground_truth)
        prediction = read_image(arguments.prediction)
        noisy = read_image(arguments.noisy) if arguments.noisy is not None else None
        spread = None if arguments.uncertainty is None else read_image(arguments.uncertainty)
        result = drive(iter_quality_control(prediction, truth, noisy, spread))
        write_tiff(maps["ssim"], result.ssim_map)
        write_tiff(maps["rse"], result.rse_map)
    scores = {"prediction": result.prediction}
    if result.noisy is not None:
        scores = {"noisy": result.noisy, **scores}
    print(format_scores(scores))
    if result.coverage:
        print(format_coverage(result.coverage))
    if result.warning is not None:
        print(f"warning: {result.warning}")
    for path in maps.values():
        print(f"wrote {path}")


def format_scores(scores: dict) -> str:
    """Format PSNR, SSIM and NRMSE as a small table, one row per scored image."""
    width = max(12, *(len(name) for name in scores))
    lines = [f"{'':{width}} {'PSNR (dB)':>10} {'SSIM':>8} {'NRMSE':>8}"]
    for name, score in scores.items():
        lines.append(f"{name:{width}} {score.psnr:10.2f} {score.ssim:8.4f} {score.nrmse:8.4f}")
    return "\n".join(lines)


def format_coverage(coverage: dict[float, float]) -> str:
    """Format the observed coverage of each central interval against its probability."""
    cells = ", ".join(f"{level:.0%} interval {value:.1%}" for level, value in coverage.items())
    return f"ground truth inside prediction ± z·uncertainty: {cells}"
