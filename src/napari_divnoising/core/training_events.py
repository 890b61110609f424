"""Events yielded by :meth:`napari_divnoising.core.training.Trainer.run`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CollapseRestart",
    "EpochDone",
    "StepDone",
    "StoppedEarly",
    "TrainingEvent",
    "TrainingStarted",
]


@dataclass(frozen=True)
class TrainingStarted:
    """Training is about to take its first step.

    Attributes
    ----------
    device : str
        Where training runs, in words ("CPU: AMD EPYC (2 threads)").
    n_train_planes, n_validation_planes : int
        2D planes used for training and for validation.
    validation_is_training : bool
        True when nothing could be held out and validation reuses the training data.
    patch_size, batch_size, steps_per_epoch : int
        Shape of the work.
    mixed_precision : str
        ``"bf16"`` or ``"off"``.
    seed : int
        The seed in use.
    """

    device: str
    n_train_planes: int
    n_validation_planes: int
    validation_is_training: bool
    patch_size: int
    batch_size: int
    steps_per_epoch: int
    mixed_precision: str
    seed: int


@dataclass(frozen=True)
class StepDone:
    """One optimisation step finished (``loss`` is NaN for a skipped step)."""

    epoch: int
    step: int
    steps_per_epoch: int
    loss: float


@dataclass(frozen=True)
class EpochDone:
    """An epoch finished and the validation data was scored.

    Attributes
    ----------
    epoch : int
        1-based epoch number (continues across resumed training).
    train_loss, val_loss : float
        Mean negative ELBO per pixel on the training patches and on validation.
    kl : float
        Mean KL divergence per pixel on the training patches.
    lr : float
        Learning rate at the end of the epoch.
    elapsed_s : float
        Seconds since training started.
    is_best : bool
        Whether this epoch has the lowest validation loss so far (its weights are kept).
    patches_per_s : float
        Training throughput over this epoch.
    """

    epoch: int
    train_loss: float
    val_loss: float
    kl: float
    lr: float
    elapsed_s: float
    is_best: bool
    patches_per_s: float


@dataclass(frozen=True)
class CollapseRestart:
    """The posterior collapsed (KL ≈ 0); training restarts from fresh weights.

    Attributes
    ----------
    epoch : int
        Epoch in which the collapse was detected.
    restart : int
        1 for the first restart.
    kl : float
        The KL per pixel that triggered the restart.
    message : str
        What happened and what is done about it, in words.
    """

    epoch: int
    restart: int
    kl: float
    message: str


@dataclass(frozen=True)
class StoppedEarly:
    """Training stopped before `max_epochs`; the best weights so far are kept.

    Attributes
    ----------
    epoch : int
        Last epoch that ran.
    kind : str
        ``"patience"``, ``"time_budget"``, ``"non_finite"`` or ``"collapse"``.
    reason : str
        Why, in words a user understands.
    """

    epoch: int
    kind: Literal["patience", "time_budget", "non_finite", "collapse"]
    reason: str


TrainingEvent = TrainingStarted | StepDone | EpochDone | CollapseRestart | StoppedEarly
