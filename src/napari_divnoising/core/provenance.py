"""Where a trained model came from: versions, seed, data shapes, date."""

from __future__ import annotations

import datetime
import platform
from typing import Any

import numpy as np
import torch

__all__ = ["training_provenance"]


def _package_version() -> str:
    try:
        from napari_divnoising import __version__
    except ImportError:  # pragma: no cover - broken installation
        return "unknown"
    return str(__version__)


def training_provenance(
    *,
    seed: int,
    data_shapes: list[tuple[int, ...]],
    device: str,
    n_train_planes: int,
    n_validation_planes: int,
    n_steps: int,
    training_seconds: float,
    mixed_precision: str,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a JSON-serialisable record of how a model was trained.

    Parameters
    ----------
    seed : int
        The seed of the run.
    data_shapes : list of tuple
        Shapes of the training images as given.
    device : str
        Description of the device.
    n_train_planes, n_validation_planes : int
        2D planes used for training and validation.
    n_steps : int
        Optimisation steps taken.
    training_seconds : float
        Wall-clock seconds of training.
    mixed_precision : str
        ``"bf16"`` or ``"off"``.
    previous : dict, optional
        Provenance of the model this run continued from.

    Returns
    -------
    dict
    """
    record: dict[str, Any] = {
        "package": "napari-divnoising",
        "package_version": _package_version(),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": int(seed),
        "training_data_shapes": [list(shape) for shape in data_shapes],
        "n_train_planes": int(n_train_planes),
        "n_validation_planes": int(n_validation_planes),
        "device": device,
        "mixed_precision": mixed_precision,
        "n_steps": int(n_steps),
        "training_seconds": round(float(training_seconds), 3),
    }
    if previous:
        record["continued_from"] = previous
    return record
