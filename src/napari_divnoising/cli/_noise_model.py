"""``divnoising fit-noise-model``: a camera noise model from calibration frames or noisy images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.noise_model.settings import NoiseModelSettings
from ._progress import CommandError, drive, user_errors
from ._settings import add_setting, setting_flags, settings_from

#: Each NoiseModelSettings field and the option that sets it.
SETTING_FLAGS = {
    "kind": "--kind",
    "n_gaussian": "--n-gaussian",
    "n_coeff": "--n-coeff",
    "min_sigma": "--min-sigma",
    "n_iterations": "--iterations",
    "lower_percentile": "--lower-percentile",
    "upper_percentile": "--upper-percentile",
    "bins": "--bins",
    "seed": "--seed",
}


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "fit-noise-model",
        help="fit a camera noise model p(observation | signal)",
        description=(
            "Fit a noise model from calibration frames (many frames of a static sample: "
            "signal = their mean) or bootstrap one from the noisy images themselves "
            "(pseudo ground truth by BM3D after a variance-stabilising transform)."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--calibration",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="TIFF stacks (T, Y, X) of frames of a static sample",
    )
    source.add_argument(
        "--bootstrap",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="noisy images (2D or stacks) to bootstrap the model from",
    )
    parser.add_argument(
        "--denoised",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="with --bootstrap: your own denoised version of each image, used as the "
        "pseudo ground truth instead of BM3D",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="model file (.npz for gmm, .npy for histogram)"
    )
    for name, flag in SETTING_FLAGS.items():
        add_setting(parser, NoiseModelSettings, name, flag)
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def check_output_path(
    out: Path, *, inputs: list[Path], overwrite: bool, suffixes: tuple[str, ...]
) -> None:
    """Refuse outputs that would destroy an input or an existing file, or have the wrong suffix.

    Parameters
    ----------
    out : Path
        The requested output file.
    inputs : list of Path
        The command's input files.
    overwrite : bool
        Whether an existing output may be replaced.
    suffixes : tuple of str
        Allowed file suffixes.
    """
    if out.suffix.lower() not in suffixes:
        raise CommandError(f"--out must end in {' or '.join(suffixes)} (got {out.name})")
    if any(out.resolve() == path.resolve() for path in inputs):
        raise CommandError(f"--out {out} is one of the input files; refusing to overwrite it")
    if out.exists() and not overwrite:
        raise CommandError(f"{out} exists; pass --overwrite to replace it")


def run(arguments: argparse.Namespace) -> None:
    """Make the model and save it."""
    from ..core.io import read_image
    from ..core.noise_model.recipe import iter_make_noise_model

    if arguments.denoised and not arguments.bootstrap:
        raise CommandError("--denoised goes with --bootstrap (the noisy images it denoises)")
    with user_errors(setting_flags(arguments)):
        settings = settings_from(arguments, NoiseModelSettings)
        inputs = list(arguments.calibration or arguments.bootstrap) + list(
            arguments.denoised or []
        )
        check_output_path(
            arguments.out,
            inputs=inputs,
            overwrite=arguments.overwrite,
            suffixes=(settings.suffix,),
        )
        if arguments.calibration:
            job = iter_make_noise_model(arguments.calibration, settings=settings)
        else:
            images = [read_image(path) for path in arguments.bootstrap]
            denoised = [read_image(path) for path in arguments.denoised or []] or None
            source = "denoised" if denoised else "bootstrap"
            job = iter_make_noise_model(
                images, source=source, denoised=denoised, settings=settings
            )
        model = drive(job, quiet=arguments.quiet).noise_model
        model.save(arguments.out)
    print(f"saved {settings.kind} noise model to {arguments.out}")
    print_noise_curve(model)


def print_noise_curve(model, *, n_levels: int = 6) -> None:
    """Print the model's mean and variance at a few signal levels across its range."""
    signal = np.linspace(model.min_signal, model.max_signal, n_levels)
    print(f"{'signal':>12} {'mean':>12} {'variance':>12}")
    for level, mean, variance in zip(
        signal, model.mean(signal), model.variance(signal), strict=True
    ):
        print(f"{level:12.2f} {mean:12.2f} {variance:12.2f}")
