"""``divnoising export-bioimageio``: a trained model as a bioimage.io model package."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._noise_model import add_axes_option, checked_axes
from ._progress import CommandError, user_errors


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    from ..core.model_files.export_defaults import EXPORT_SAMPLES

    parser = subparsers.add_parser(
        "export-bioimageio",
        help="export a trained model to the bioimage.io Model Zoo format",
        description=(
            "Write a bioimage.io model package (format 0.5, a .zip) that computes the MMSE "
            f"of a fixed number of posterior samples (default {EXPORT_SAMPLES}) with a fixed "
            "seed, with test tensors and a cover from --test-image, the noise model, the "
            "training settings and history, and the full model attached (napari-divnoising "
            "reads it back with samples, MAP and uncertainty). Needs the bioimageio extra."
        ),
    )
    parser.add_argument("model", type=Path, metavar="MODEL", help="trained model (.divnoising)")
    parser.add_argument("--out", type=Path, required=True, help="the package, NAME.zip")
    parser.add_argument(
        "--test-image", type=Path, help="a noisy image of your own: its centre is the test tile"
    )
    parser.add_argument(
        "--license", help="SPDX license of the model, e.g. CC-BY-4.0 or MIT (required)"
    )
    parser.add_argument(
        "--author", action="append", default=[], help="an author's name (repeat for more)"
    )
    parser.add_argument("--name", default="DivNoising denoiser", help="the model's name")
    parser.add_argument("--samples", type=int, default=EXPORT_SAMPLES, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    add_axes_option(parser, " (of --test-image)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing package")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> None:
    """Export the model."""
    from ..core.io import read_planes
    from ..core.model_files.bioimageio import export_bioimageio
    from ..core.model_files.bundle import load_model
    from ..core.outputs import plan_outputs

    for flag, value in (("--test-image", arguments.test_image), ("--license", arguments.license)):
        if not value:
            raise CommandError(f"give {flag}: the package needs it (see --help)")
    if not arguments.author:
        raise CommandError("give at least one --author NAME")
    axes = checked_axes(arguments)
    with user_errors():
        inputs = [arguments.model, arguments.test_image]
        plan_outputs(
            [(str(arguments.model), arguments.out)], inputs=inputs, overwrite=arguments.overwrite
        )
        model = load_model(arguments.model)
        path = export_bioimageio(
            model,
            read_planes(arguments.test_image, axes=axes),
            arguments.out,
            license=arguments.license,
            authors=arguments.author,
            name=arguments.name,
            n_samples=arguments.samples,
            seed=arguments.seed,
        )
    print(f"wrote {path}")
