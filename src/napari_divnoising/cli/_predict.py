"""``divnoising predict``: posterior samples, MMSE, MAP and uncertainty of noisy images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._progress import CommandError, drive, user_errors


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "predict",
        help="denoise images with a trained model",
        description=(
            "Draw posterior samples for each image and write <stem>_mmse.tif (their mean), "
            "and on request <stem>_map.tif, <stem>_uncertainty.tif (their standard "
            "deviation) and <stem>_samples.tif (K raw samples, sample axis first)."
        ),
    )
    parser.add_argument("model", type=Path, metavar="MODEL", help="trained model (.divnoising)")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGES", help="noisy TIFF images")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--samples", type=int, default=100, help="posterior samples (default: 100)"
    )
    parser.add_argument("--map", action="store_true", help="also write the MAP estimate")
    parser.add_argument("--uncertainty", action="store_true", help="also write the per-pixel std")
    parser.add_argument(
        "--keep-samples", type=int, default=0, metavar="K", help="write K raw samples"
    )
    parser.add_argument("--tta", action="store_true", help="8-fold test-time augmentation")
    parser.add_argument(
        "--tile-size", type=int, default=None, help="tile side (default: automatic)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def output_paths(image_path: Path, folder: Path, arguments: argparse.Namespace) -> dict[str, Path]:
    """Return the files written for one image, by result name."""
    names = ["mmse"]
    names += ["map"] * arguments.map + ["uncertainty"] * arguments.uncertainty
    names += ["samples"] * (arguments.keep_samples > 0)
    return {name: folder / f"{image_path.stem}_{name}.tif" for name in names}


def check_outputs(arguments: argparse.Namespace) -> None:
    """Refuse to overwrite inputs or, without --overwrite, existing results."""
    inputs = {path.resolve() for path in [arguments.model, *arguments.images]}
    for image_path in arguments.images:
        for path in output_paths(image_path, arguments.out, arguments).values():
            if path.resolve() in inputs:
                raise CommandError(f"{path} is one of the inputs; choose another --out")
            if path.exists() and not arguments.overwrite:
                raise CommandError(f"{path} exists; pass --overwrite to replace it")


def run(arguments: argparse.Namespace) -> None:
    """Predict every image and write the results."""
    from ..core.bundle import load_model
    from ..core.inference import iter_sample_posterior
    from ..core.io import read_image, write_tiff

    check_outputs(arguments)
    with user_errors():
        model = load_model(arguments.model)
        for image_path in arguments.images:
            image = read_image(image_path)
            prediction = drive(
                iter_sample_posterior(
                    image,
                    model,
                    n_samples=arguments.samples,
                    keep_samples=arguments.keep_samples,
                    map_estimate=arguments.map,
                    uncertainty=arguments.uncertainty,
                    tta=arguments.tta,
                    tile_size=arguments.tile_size,
                    seed=arguments.seed,
                    device=arguments.device,
                ),
                quiet=arguments.quiet,
            )
            for name, path in output_paths(image_path, arguments.out, arguments).items():
                write_tiff(path, np.asarray(getattr(prediction, name), dtype=np.float32))
                print(f"wrote {path}")
