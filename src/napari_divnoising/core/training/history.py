"""Reading a model's training history: the epoch that was kept, in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["best_epoch", "describe_history"]


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
