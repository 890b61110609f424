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
    "stop_when_converged": "--stop-when-converged",
    "lower_percentile": "--lower-percentile",
    "upper_percentile": "--upper-percentile",
    "bins": "--bins",
    "seed": "--seed",
    "name": "--name",
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
    parser.add_argument(
        "--subset",
        type=float,
        default=100.0,
        metavar="PERCENT",
        help="with --bootstrap: bootstrap from this share of each image's planes, evenly "
        "spread (BM3D takes about 10 s per 512×512 plane; default: 100)",
    )
    add_axes_option(parser, "; with --bootstrap (and --denoised) only")
    for name, flag in SETTING_FLAGS.items():
        add_setting(parser, NoiseModelSettings, name, flag)
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


#: Help of the --axes option every command that reads noisy images has.
AXES_HELP = (
    "axes of the input images, one letter per axis, e.g. TZYX (T time, Z depth, C channel, "
    "Q other planes, S RGB samples, Y X the plane); default: read from the file's metadata"
)


def add_axes_option(parser: argparse.ArgumentParser, note: str = "") -> None:
    """Add ``--axes`` to `parser`; `note` is appended to its help."""
    parser.add_argument("--axes", metavar="AXES", help=AXES_HELP + note)


def checked_axes(arguments: argparse.Namespace) -> str | None:
    """Return the validated ``--axes`` (in capitals), or None when it is not given."""
    from ..core.axes import parse_axes

    if arguments.axes is None:
        return None
    with user_errors():
        return parse_axes(arguments.axes)


def check_output_path(
    out: Path, *, inputs: list[Path], overwrite: bool, suffixes: tuple[str, ...]
) -> None:
    """Refuse an output with the wrong suffix, or one that :func:`plan_outputs` refuses.

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
    from ..core.outputs import plan_outputs

    if out.suffix.lower() not in suffixes:
        raise CommandError(f"--out must end in {' or '.join(suffixes)} (got {out.name})")
    with user_errors():
        plan_outputs([("--out", out)], inputs=inputs, overwrite=overwrite)


def run(arguments: argparse.Namespace) -> None:
    """Make the model and save it."""
    from ..core.io import read_planes
    from ..core.noise_model.recipe import iter_make_noise_model

    if arguments.denoised and not arguments.bootstrap:
        raise CommandError("--denoised goes with --bootstrap (the noisy images it denoises)")
    if arguments.subset != 100.0 and (not arguments.bootstrap or arguments.denoised):
        raise CommandError("--subset goes with --bootstrap (the planes BM3D denoises)")
    if not 0.0 < arguments.subset <= 100.0:
        raise CommandError(f"--subset must be a percentage in (0, 100] (got {arguments.subset})")
    if arguments.axes is not None and not arguments.bootstrap:
        raise CommandError(
            "--axes goes with --bootstrap; calibration stacks are read as (T, Y, X) frames"
        )
    axes = checked_axes(arguments)
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
            images = [read_planes(path, axes=axes) for path in arguments.bootstrap]
            denoised = [read_planes(path, axes=axes) for path in arguments.denoised or []]
            denoised = denoised or None
            source = "denoised" if denoised else "bootstrap"
            job = iter_make_noise_model(
                images,
                source=source,
                denoised=denoised,
                settings=settings,
                subset=arguments.subset / 100.0,
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
