"""Reading a model's training history: the epoch that was kept, and the trend, in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["best_epoch", "describe_history", "late_improvement", "validation_trend"]

#: Shares of the validation improvement bought by the second half of the training time above
#: which more training "would likely help" and below which the loss "had levelled off".
STILL_FALLING, LEVELLED_OFF = 0.05, 0.01


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
    """Share of the validation improvement of the last training that came in its second half.

    The improvement is measured from the first epoch's validation loss to the best one; the
    halves are halves of the training time (``elapsed_s``), or of the epochs when no time
    was recorded.

    Parameters
    ----------
    history : sequence of dict
        A model's ``history``.

    Returns
    -------
    float or None
        Between 0 and 1; None with fewer than 4 epochs or no improvement at all.

    Examples
    --------
    >>> epochs = [{"epoch": i, "val_loss": v, "elapsed_s": 10.0 * i}
    ...           for i, v in enumerate([3.0, 2.0, 1.5, 1.4, 1.35], start=1)]
    >>> round(late_improvement(epochs), 3)  # (2.0 - 1.35) / (3.0 - 1.35)
    0.394
    """
    epochs = _last_run(history)
    if len(epochs) < 4:
        return None
    losses = [e["val_loss"] for e in epochs]
    total = losses[0] - min(losses)
    if not total > 0:
        return None
    if all("elapsed_s" in e for e in epochs):
        middle = epochs[-1]["elapsed_s"] / 2
        first_half = [e["val_loss"] for e in epochs if e["elapsed_s"] <= middle] or losses[:1]
    else:
        first_half = losses[: len(losses) // 2]
    return max(0.0, min(first_half) - min(losses)) / total


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
    share = late_improvement(history)
    if share is None:
        return "Too few epochs improved to tell whether longer training would help."
    percent = f"{share:.0%}" if share >= 0.1 else f"{share:.1%}"
    bought = f"the second half of the training bought {percent} of its improvement"
    if share >= STILL_FALLING:
        state, advice = "was still falling", "longer training would likely help"
    elif share >= LEVELLED_OFF:
        state, advice = "was falling slowly", "longer training may help a little"
    else:
        state, advice = "had levelled off", "longer training is unlikely to help"
    return f"The validation loss {state} ({bought}): {advice}."
