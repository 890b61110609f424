"""The one event vocabulary of every long job in the core.

Every long step (making a noise model, bootstrapping, training, sampling, quality control)
is a generator that yields :class:`Progress` events and *returns* its result. The GUI runs
the generator in a napari thread worker, the command line drives it with a progress bar,
the tests iterate it. Stopping early is "stop iterating".

A :class:`Progress` says where the job is (``stage``, ``step`` of ``total``, and the
``fraction`` done, which the producer computes: no consumer recomputes it), what a progress
bar should show (``status``), a line worth keeping in a log (``message``), and typed details
(``payload``): the training's :class:`TrainingStarted`, :class:`EpochDone`,
:class:`CollapseRestart` and :class:`StoppedEarly`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec, TypeVar

__all__ = [
    "CollapseRestart",
    "EpochDone",
    "Progress",
    "StoppedEarly",
    "TrainingStarted",
    "blocking",
    "budget_status",
    "payloads",
    "run_generator",
]

ResultT = TypeVar("ResultT")
PayloadT = TypeVar("PayloadT")


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

    def as_record(self) -> dict[str, float | int | bool]:
        """Return the epoch as one entry of a model's ``history``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


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
    """

    epoch: int
    restart: int
    kl: float


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


@dataclass(frozen=True)
class Progress:
    """One step of a long-running core job.

    Attributes
    ----------
    stage : str
        What is being done, in words a user understands ("fitting noise model").
    step : int
        Steps completed so far in this stage (0 before the first).
    total : int
        Number of steps the stage is expected to take.
    loss : float or None
        The current value of the objective, where the stage has one.
    status : str
        What a progress bar shows beside the bar (default: ``"stage: step/total"``).
    message : str
        A line worth keeping in a log ("epoch 3 · train 1.23 · val 1.25"); empty for
        plain steps. The command line prints it; the GUI shows it as the status.
    payload : object or None
        Typed details for consumers that need them (:class:`EpochDone` for a loss plot).
    fraction : float
        Fraction of the stage done, in [0, 1]; computed from `step` and `total` unless the
        producer knows better (a time budget).
    """

    stage: str
    step: int
    total: int
    loss: float | None = None
    status: str = ""
    message: str = ""
    payload: object = None
    fraction: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.fraction < 0.0:
            done = min(1.0, self.step / self.total) if self.total > 0 else 1.0
            object.__setattr__(self, "fraction", max(0.0, done))
        if not self.status:
            loss = f" · loss {self.loss:.4g}" if self.loss is not None else ""
            object.__setattr__(self, "status", f"{self.stage}: {self.step}/{self.total}{loss}")


def payloads(events: Iterable[object], kind: type[PayloadT]) -> list[PayloadT]:
    """Return the payloads of type `kind` carried by `events`, in order.

    Parameters
    ----------
    events : iterable of Progress
        Events a core generator yielded.
    kind : type
        The payload type wanted, e.g. :class:`EpochDone`.

    Returns
    -------
    list
        The matching payloads.
    """
    return [e.payload for e in events if isinstance(getattr(e, "payload", None), kind)]


def run_generator(
    generator: Generator[Progress, None, ResultT],
    progress: Callable[[Progress], None] | None = None,
) -> ResultT:
    """Drive a core generator to completion and return its result.

    Parameters
    ----------
    generator : Generator
        A core generator that yields events and returns a result.
    progress : callable, optional
        Called with every event the generator yields.

    Returns
    -------
    object
        The value the generator returned.
    """
    while True:
        try:
            event = next(generator)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(event)


Params = ParamSpec("Params")


def blocking(
    iterate: Callable[Params, Generator[Progress, None, ResultT]],
) -> Callable[..., ResultT]:
    """Return the blocking form of an iterating function: ``iter_name`` → ``name``.

    The blocking form takes the same arguments, plus a keyword-only ``progress`` callable
    given every event, and returns what the generator returns. One helper makes every
    blocking form, so the two never drift apart.

    Parameters
    ----------
    iterate : callable
        A function that returns a core generator (its name starts with ``iter_``).

    Returns
    -------
    callable

    Examples
    --------
    >>> def iter_count(n):
    ...     for step in range(n):
    ...         yield Progress("counting", step + 1, n)
    ...     return n
    >>> count = blocking(iter_count)
    >>> count(3, progress=lambda event: print(event.step, end=" "))
    1 2 3 3
    """
    name = iterate.__name__.removeprefix("iter_")

    @functools.wraps(iterate)
    def run(*args: Any, progress: Callable[[Progress], None] | None = None, **kwargs: Any):
        return run_generator(iterate(*args, **kwargs), progress)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = (
        f"Blocking form of :func:`{iterate.__name__}` (see it for the arguments and "
        "examples).\n\n``progress``, keyword-only, is a callable given every "
        f":class:`~napari_divnoising.core.events.Progress` event.\nReturns what "
        f":func:`{iterate.__name__}`'s generator returns."
    )
    return run


def budget_status(
    stage: str, seconds: float, budget_s: float, steps: int, loss: float | None = None
) -> str:
    """Return a progress line for work under a time budget: the clock, not an upper bound.

    Examples
    --------
    >>> budget_status("training", 75.4, 300, 1904, 2.5)
    'training: 1:15 of 5:00 · 1,904 steps · loss 2.5'
    """

    def clock(value: float) -> str:
        minutes, rest = divmod(max(0, round(value)), 60)
        return f"{minutes}:{rest:02d}"

    text = f"{stage}: {clock(seconds)} of {clock(budget_s)} · {steps:,} step"
    text += "" if steps == 1 else "s"
    return text + (f" · loss {loss:.4g}" if loss is not None else "")
