"""``divnoising train``: train a DivNoising model on noisy images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.model.config import MODEL_SUFFIX, DirectConfig, TrainingConfig
from ._noise_model import add_axes_option, check_output_path, checked_axes
from ._progress import CommandError, drive, user_errors
from ._settings import add_setting, setting_flags, settings_from

#: Each TrainingConfig field the command sets, and its option.
SETTING_FLAGS = {
    "max_epochs": "--max-epochs",
    "early_stopping_patience": "--patience",
    "batch_size": "--batch-size",
    "patch_size": "--patch-size",
    "learning_rate": "--learning-rate",
    "time_budget_minutes": "--time-budget",
    "train_fraction": "--train-fraction",
    "seed": "--seed",
    "preset": "--preset",
    "calibrate_uncertainty": "--calibrate-uncertainty",
}
SETTING_OPTIONS = {
    "batch_size": {"help": "Patches per optimisation step (default: 32; 64 with a budget)."},
    "patch_size": {
        "help": "Side of the square training patches (default: 128; 64 with a budget)."
    },
    "learning_rate": {"help": "Initial Adam learning rate (default: 1e-3; 3e-3 with a budget)."},
    "time_budget_minutes": {"metavar": "MINUTES"},
    "seed": {"help": "Seed of every random choice (default: 0)."},
    "calibrate_uncertainty": {
        "help": "After training, calibrate the uncertainty on the held-back validation "
        "planes, about two predictions of ≤ 512×512 pixels (default: yes)."
    },
}


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "train",
        help="train a DivNoising model on noisy images",
        description=(
            "Train the DivNoising VAE on noisy images (2D, or stacks whose planes are "
            "independent images). Stops early when the validation loss stops improving, "
            "or when the time budget is spent; the best model is saved. Ctrl-C stops "
            "training and still saves the best model so far."
        ),
    )
    parser.add_argument(
        "images",
        nargs="+",
        type=Path,
        metavar="IMAGES",
        help="noisy images: TIFF or .npy files; zarr / OME-Zarr stores and folders are read "
        "plane by plane while training (any size)",
    )
    likelihood = parser.add_mutually_exclusive_group()
    likelihood.add_argument("--noise-model", type=Path, help="noise model file (.npz or .npy)")
    likelihood.add_argument(
        "--gaussian-sigma", type=float, help="without a noise model: Gaussian noise σ (raw units)"
    )
    parser.add_argument("--out", type=Path, required=True, help=f"model file ({MODEL_SUFFIX})")
    add_axes_option(parser)
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--continue-from", type=Path, metavar="MODEL", help="continue training this model"
    )
    start.add_argument(
        "--direct-from",
        type=Path,
        metavar="MODEL",
        help="train only a direct network for this trained model, on IMAGES, and save the "
        "model with it to --out (MODEL is not changed)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="after the VAE, train a direct network: the MMSE in one pass "
        "(`predict --direct`), for big data; samples and uncertainty still need the VAE",
    )
    parser.add_argument(
        "--direct-minutes",
        type=float,
        default=DirectConfig().time_budget_minutes,
        metavar="MINUTES",
        help="training time of the direct network (default: %(default)g)",
    )
    parser.add_argument(
        "--direct-steps",
        type=int,
        default=0,
        metavar="N",
        help="stop the direct network's training after N steps (default: the time alone)",
    )
    for name, flag in SETTING_FLAGS.items():
        add_setting(parser, TrainingConfig, name, flag, **SETTING_OPTIONS.get(name, {}))
    # Reproducible by default on the command line (the API draws a seed when none is given).
    parser.set_defaults(seed=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=run)


def training_images(path: Path, axes: str | None) -> Any:
    """Read a TIFF or .npy file; open a zarr store or folder lazily (read while training)."""
    from ..core.io import read_planes
    from ..core.stacks import open_stack

    if path.is_dir():
        return open_stack(path, axes=axes)
    return read_planes(path, axes=axes)


def run(arguments: argparse.Namespace) -> None:
    """Train and save the model."""
    from ..core.model_files import load_noise_model
    from ..core.model_files.bundle import load_model, save_model
    from ..core.training.history import describe_history, training_warning
    from ..core.training.trainer import Trainer

    if arguments.direct_from is not None:
        return run_direct_from(arguments)
    if (
        arguments.noise_model is None
        and arguments.gaussian_sigma is None
        and not arguments.continue_from
    ):
        raise CommandError("give a --noise-model (recommended) or a --gaussian-sigma")
    direct_config = checked_direct_config(arguments)
    with user_errors(setting_flags(arguments)):
        config = settings_from(arguments, TrainingConfig)
    axes = checked_axes(arguments)
    check_output_path(
        arguments.out,
        inputs=list(arguments.images),
        overwrite=arguments.overwrite,
        suffixes=(MODEL_SUFFIX,),
    )
    with user_errors():
        images = [training_images(path, axes) for path in arguments.images]
        initial = load_model(arguments.continue_from) if arguments.continue_from else None
        noise_model = load_noise_model(arguments.noise_model) if arguments.noise_model else None
        trainer = Trainer(
            images,
            noise_model=noise_model,
            gaussian_sigma=arguments.gaussian_sigma,
            config=config,
            device=arguments.device,
            initial_model=initial,
        )
        # The planner accepted a folder that can be made: make it now, not after training.
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        model = train_with_report(trainer, quiet=arguments.quiet)
        if direct_config is not None:
            model = train_direct_with_report(model, images, direct_config, arguments)
        save_model(model, arguments.out)
    print(f"saved model to {arguments.out}: {describe_history(model.history)}")
    warning = training_warning(model.history)
    if warning is not None:
        print(f"warning: {warning}")


def train_with_report(trainer, *, quiet: bool):
    """Run the trainer with a progress bar and a line per epoch; return the best model.

    Ctrl-C, SIGTERM and SIGHUP stop training and keep the best model so far.
    """
    try:
        return drive(trainer.run(), quiet=quiet)
    except KeyboardInterrupt as stop:
        how = getattr(stop, "signal_name", None)
        said = "interrupted" if how is None else f"stopped by {how}"
        print(f"{said}: keeping the best model so far", file=sys.stderr)
        return trainer.best_model()


def checked_direct_config(arguments: argparse.Namespace) -> DirectConfig | None:
    """Return the direct network's settings when one is asked for, checked now."""
    if not (arguments.direct or arguments.direct_from):
        return None
    with user_errors():
        return DirectConfig(
            time_budget_minutes=arguments.direct_minutes,
            max_steps=arguments.direct_steps,
            seed=arguments.seed,
        )


def run_direct_from(arguments: argparse.Namespace) -> None:
    """``--direct-from MODEL``: train a direct network for a trained model; save both."""
    from ..core.model_files.bundle import load_model, save_model

    config = checked_direct_config(arguments)
    axes = checked_axes(arguments)
    inputs = [*arguments.images, arguments.direct_from]
    check_output_path(
        arguments.out, inputs=inputs, overwrite=arguments.overwrite, suffixes=(MODEL_SUFFIX,)
    )
    with user_errors():
        model = load_model(arguments.direct_from)
        images = [training_images(path, axes) for path in arguments.images]
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        model = train_direct_with_report(model, images, config, arguments)
        save_model(model, arguments.out)
    print(f"saved model with its direct network to {arguments.out}")


def train_direct_with_report(model, images, config: DirectConfig, arguments: argparse.Namespace):
    """Train the direct network with a progress bar; Ctrl-C keeps the best one so far."""
    from ..core.training.direct import DirectTraining, with_direct_network

    training = DirectTraining(model, images, config=config, device=arguments.device)
    try:
        drive(training.run(), quiet=arguments.quiet)
    except KeyboardInterrupt as stop:
        how = getattr(stop, "signal_name", None)
        said = "interrupted" if how is None else f"stopped by {how}"
        print(f"{said}: keeping the best direct network so far", file=sys.stderr)
    return with_direct_network(model, training)
