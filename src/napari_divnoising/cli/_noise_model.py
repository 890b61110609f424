"""``divnoising fit-noise-model``: a camera noise model from calibration frames or noisy images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._progress import CommandError, drive, user_errors

SUFFIX_OF_KIND = {"gmm": ".npz", "histogram": ".npy"}


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
        "--out", type=Path, required=True, help="model file (.npz for gmm, .npy for histogram)"
    )
    parser.add_argument(
        "--kind", choices=sorted(SUFFIX_OF_KIND), default="gmm", help="model kind (default: gmm)"
    )
    parser.add_argument("--n-gaussian", type=int, default=3, help="GMM components (default: 3)")
    parser.add_argument(
        "--n-coeff", type=int, default=2, help="GMM polynomial coefficients (default: 2)"
    )
    parser.add_argument(
        "--min-sigma",
        type=float,
        default=None,
        help="GMM variance floor in squared intensity units (default: derived from the data)",
    )
    parser.add_argument(
        "--iterations", type=int, default=2000, help="GMM fitting iterations (default: 2000)"
    )
    parser.add_argument(
        "--bins", type=int, default=None, help="histogram bins (default: from the data)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
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


def noise_pairs_from_files(arguments: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Return matching (signal, observation) arrays from the calibration or bootstrap files."""
    from ..core.calibration import calibration_pairs
    from ..core.io import read_image

    if arguments.calibration:
        pairs = calibration_pairs([read_image(path) for path in arguments.calibration])
        return pairs.signal, pairs.observation
    from ..core.bootstrap import iter_bootstrap_signal

    # Files may differ in shape: the pairs of all files are pooled as flat arrays.
    signals, observations = [], []
    for path in arguments.bootstrap:
        image = read_image(path)
        signals.append(drive(iter_bootstrap_signal(image), quiet=arguments.quiet).ravel())
        observations.append(image.ravel())
    return np.concatenate(signals), np.concatenate(observations)


def run(arguments: argparse.Namespace) -> None:
    """Fit the model and save it."""
    from ..core.noise_models import iter_fit_noise_model

    inputs = list(arguments.calibration or arguments.bootstrap)
    check_output_path(
        arguments.out,
        inputs=inputs,
        overwrite=arguments.overwrite,
        suffixes=(SUFFIX_OF_KIND[arguments.kind],),
    )
    with user_errors():
        signal, observation = noise_pairs_from_files(arguments)
        settings = {"kind": arguments.kind, "seed": arguments.seed}
        if arguments.bootstrap:
            from ..core.bootstrap import BOOTSTRAP_PERCENTILES

            # The extremes of a pseudo ground truth are its least reliable signals.
            settings["lower_percentile"], settings["upper_percentile"] = BOOTSTRAP_PERCENTILES
        if arguments.kind == "gmm":
            settings |= {
                "n_gaussian": arguments.n_gaussian,
                "n_coeff": arguments.n_coeff,
                "min_sigma": arguments.min_sigma,
                "n_iterations": arguments.iterations,
            }
        else:
            settings["bins"] = arguments.bins
        model = drive(
            iter_fit_noise_model(signal, observation, **settings),
            quiet=arguments.quiet,
        )
        model.save(arguments.out)
    print(f"saved {arguments.kind} noise model to {arguments.out}")
    print_noise_curve(model)


def print_noise_curve(model, *, n_levels: int = 6) -> None:
    """Print the model's mean and variance at a few signal levels across its range."""
    signal = np.linspace(model.min_signal, model.max_signal, n_levels)
    print(f"{'signal':>12} {'mean':>12} {'variance':>12}")
    for level, mean, variance in zip(
        signal, model.mean(signal), model.variance(signal), strict=True
    ):
        print(f"{level:12.2f} {mean:12.2f} {variance:12.2f}")
