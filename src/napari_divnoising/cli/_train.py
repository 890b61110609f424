"""``divnoising train``: train a DivNoising model on noisy images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._noise_model import check_output_path
from ._progress import CommandError, user_errors

MODEL_SUFFIX = ".divnoising"


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
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGES", help="noisy TIFF images")
    likelihood = parser.add_mutually_exclusive_group()
    likelihood.add_argument("--noise-model", type=Path, help="noise model file (.npz or .npy)")
    likelihood.add_argument(
        "--gaussian-sigma", type=float, help="without a noise model: Gaussian noise σ (raw units)"
    )
    parser.add_argument("--out", type=Path, required=True, help=f"model file ({MODEL_SUFFIX})")
    parser.add_argument(
        "--continue-from", type=Path, metavar="MODEL", help="continue training this model"
    )
    parser.add_argument("--max-epochs", type=int, help="maximum epochs (default: 1000)")
    parser.add_argument(
        "--patience", type=int, help="early-stopping patience in epochs (default: 100)"
    )
    parser.add_argument(
        "--batch-size", type=int, help="patches per step (default: 32; 64 with a budget)"
    )
    parser.add_argument(
        "--patch-size", type=int, help="patch side (default: 128; 64 with a budget)"
    )
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate")
    parser.add_argument(
        "--time-budget", type=float, metavar="MINUTES", help="stop after this long"
    )
    parser.add_argument(
        "--train-fraction", type=float, help="fraction of planes to train on (0.85)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(run=run)


def training_config(arguments: argparse.Namespace):
    """Build the :class:`TrainingConfig` of the options (unset options keep defaults)."""
    from ..core.config import TrainingConfig

    options = {
        "max_epochs": arguments.max_epochs,
        "early_stopping_patience": arguments.patience,
        "batch_size": arguments.batch_size,
        "patch_size": arguments.patch_size,
        "learning_rate": arguments.learning_rate,
        "time_budget_minutes": arguments.time_budget,
        "train_fraction": arguments.train_fraction,
        "seed": arguments.seed,
    }
    return TrainingConfig(**{key: value for key, value in options.items() if value is not None})


def run(arguments: argparse.Namespace) -> None:
    """Train and save the model."""
    from ..core.bundle import load_model, save_model
    from ..core.io import read_image
    from ..core.noise_models import load_noise_model
    from ..core.training import Trainer

    if (
        arguments.noise_model is None
        and arguments.gaussian_sigma is None
        and not arguments.continue_from
    ):
        raise CommandError("give a --noise-model (recommended) or a --gaussian-sigma")
    check_output_path(
        arguments.out,
        inputs=list(arguments.images),
        overwrite=arguments.overwrite,
        suffixes=(MODEL_SUFFIX,),
    )
    with user_errors():
        images = [read_image(path) for path in arguments.images]
        initial = load_model(arguments.continue_from) if arguments.continue_from else None
        noise_model = load_noise_model(arguments.noise_model) if arguments.noise_model else None
        trainer = Trainer(
            images,
            noise_model=noise_model,
            gaussian_sigma=arguments.gaussian_sigma,
            config=training_config(arguments),
            device=arguments.device,
            initial_model=initial,
        )
        run_with_report(trainer, quiet=arguments.quiet)
        model = trainer.best_model()
        save_model(model, arguments.out)
    best = min((epoch["val_loss"] for epoch in model.history), default=float("nan"))
    print(f"saved model to {arguments.out} (best validation loss {best:.4f})")


def run_with_report(trainer, *, quiet: bool) -> None:
    """Iterate the trainer, printing one line per epoch; Ctrl-C stops and keeps the best."""
    from ..core.training_events import CollapseRestart, EpochDone, StoppedEarly, TrainingStarted

    generator = trainer.run()
    try:
        for event in generator:
            if quiet:
                continue
            if isinstance(event, TrainingStarted):
                print(
                    f"training on {event.device}; {event.n_train_planes} training and "
                    f"{event.n_validation_planes} validation planes, patches {event.patch_size}², "
                    f"batch {event.batch_size}, {event.steps_per_epoch} steps per epoch",
                    file=sys.stderr,
                )
            elif isinstance(event, EpochDone):
                mark = " *" if event.is_best else ""
                print(
                    f"epoch {event.epoch:4d}  train {event.train_loss:.4f}  "
                    f"val {event.val_loss:.4f}  kl {event.kl:.4f}  lr {event.lr:.2e}  "
                    f"{event.elapsed_s:6.0f} s{mark}",
                    file=sys.stderr,
                )
            elif isinstance(event, (CollapseRestart, StoppedEarly)):
                print(getattr(event, "message", None) or event.reason, file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: keeping the best model so far", file=sys.stderr)
    finally:
        generator.close()
