"""Reading a model's training history: the epoch that was kept, and the trend, in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "FEW_EPOCHS",
    "STEEPLY_FALLING",
    "best_epoch",
    "describe_history",
    "late_improvement",
    "training_warning",
    "validation_trend",
]

#: Validation-loss drops in the second half of the training time, in nats per pixel, above
#: which more training "would likely help" and below which the loss "had levelled off".
#: The loss is a negative log-likelihood per pixel, so a drop of d nats is, for noise that is
#: about Gaussian, a fall of the squared error by 2·d times the noise variance: 0.005 nats is
#: 1% of the noise variance, which at a typical MMSE error (a tenth to a quarter of the noise
#: variance) is 0.2–0.4 dB. A share of the total improvement cannot say this: the first
#: minute's fall from an untrained network dwarfs every later one, which still buys dB.
STILL_FALLING, LEVELLED_OFF = 0.005, 0.001


def best_epoch(history: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the entry of the epoch with the lowest validation loss (None if there is none).

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``: one entry per finished epoch.

    Returns
    -------
    dict or None
        The best epoch's entry; its weights are the ones a trained model keeps.

    Examples
    --------
    >>> best_epoch([{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.5}])["epoch"]
    2
    """
    return min(history, key=lambda entry: entry["val_loss"], default=None)


def describe_history(history: Sequence[dict[str, Any]]) -> str:
    """Say in one sentence how many epochs ran and which one was kept.

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``.

    Returns
    -------
    str
        For example "12 epoch(s); kept epoch 9 (validation loss 1.234)."
    """
    best = best_epoch(history)
    if best is None:
        return "No epoch finished."
    return (
        f"{len(history)} epoch(s); kept epoch {best['epoch']} "
        f"(validation loss {best['val_loss']:.4g})."
    )


def _last_run(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the epochs of the last training call that have a finite validation loss.

    A continued training restarts its clock, so the last call begins where ``elapsed_s``
    goes back.
    """
    epochs = [e for e in history if math.isfinite(e.get("val_loss", math.nan))]
    start = 0
    for index in range(1, len(epochs)):
        if epochs[index].get("elapsed_s", 0.0) < epochs[index - 1].get("elapsed_s", 0.0):
            start = index
    return epochs[start:]


def late_improvement(history: Sequence[dict[str, Any]]) -> float | None:
    """How far the validation loss of the last training fell in its second half.

    The drop from the best validation loss of the first half to the best one overall; the
    halves are halves of the training time (``elapsed_s``), or of the epochs when no time
    was recorded.

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``.

    Returns
    -------
    float or None
        Nats per pixel, 0 or more; None with fewer than 4 epochs.

    Examples
    --------
    >>> epochs = [{"epoch": i, "val_loss": v, "elapsed_s": 10.0 * i}
    ...           for i, v in enumerate([3.0, 2.0, 1.5, 1.4, 1.35], start=1)]
    >>> round(late_improvement(epochs), 3)  # best of 10–20 s: 2.0; best overall: 1.35
    0.65
    """
    epochs = _last_run(history)
    if len(epochs) < 4:
        return None
    losses = [e["val_loss"] for e in epochs]
    if all("elapsed_s" in e for e in epochs):
        middle = epochs[-1]["elapsed_s"] / 2
        first_half = [e["val_loss"] for e in epochs if e["elapsed_s"] <= middle] or losses[:1]
    else:
        first_half = losses[: len(losses) // 2]
    return max(0.0, min(first_half) - min(losses))


def validation_trend(history: Sequence[dict[str, Any]]) -> str:
    """Say whether the validation loss was still falling when training ended.

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``.

    Returns
    -------
    str
        One sentence a user can act on: whether a longer training would likely help.
    """
    drop = late_improvement(history)
    if drop is None:
        return "Too few epochs to tell whether longer training would help."
    bought = f"{drop:.4f} nats per pixel in the second half of the training"
    if drop >= STILL_FALLING:
        state, advice = "was still falling", "longer training would likely help"
    elif drop >= LEVELLED_OFF:
        state, advice = "was falling slowly", "longer training may help a little"
    else:
        state, advice = "had levelled off", "longer training is unlikely to help"
    return f"The validation loss {state} ({bought}): {advice}."


#: Fewer epochs than this and a model has seen too little of the data to be trusted.
FEW_EPOCHS = 10
#: A fall of the validation loss in the second half of the training at or above which the
#: model is far from trained: 0.1 nats per pixel is about 20% of the noise variance off the
#: squared error (see :data:`STILL_FALLING`). Short CPU trainings of usable models fall by
#: 0.02–0.05; this warns of the unusable ones, not of every model that could improve.
STEEPLY_FALLING = 0.1


def training_warning(history: Sequence[dict[str, Any]]) -> str | None:
    """Warn when a training ended too early to trust its model, or None.

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``.

    Returns
    -------
    str or None
        What is wrong and what to do: after fewer than :data:`FEW_EPOCHS` epochs, or when
        the validation loss was still falling steeply (:data:`STEEPLY_FALLING` nats per
        pixel or more in the second half of the training).

    Examples
    --------
    >>> training_warning([{"epoch": 1, "val_loss": 3.0}])[:40]
    'Training ended after only 1 epoch: the r'
    """
    epochs = _last_run(history)
    if not epochs:
        return None
    if len(epochs) < FEW_EPOCHS:
        count = f"{len(epochs)} epoch{'s' if len(epochs) > 1 else ''}"
        return (
            f"Training ended after only {count}: the results are likely poor (check them "
            "against the noisy image). Train longer: raise the time budget or the epochs, "
            "or press Continue training."
        )
    drop = late_improvement(history)
    if drop is not None and drop >= STEEPLY_FALLING:
        return (
            f"The validation loss was still falling steeply ({drop:.3f} nats per pixel in "
            "the second half of the training): a longer training would likely give a "
            "clearly better result."
        )
    return None
