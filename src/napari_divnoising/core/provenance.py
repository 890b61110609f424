"""Where a result came from: software versions, platform, date (and for a model, its run).

Every file the core writes (noise model, model bundle, prediction settings) carries the
same :func:`software_record`, with the same keys.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import sys
from typing import Any

import numpy as np

__all__ = ["model_fingerprint", "package_version", "software_record", "training_provenance"]


def package_version() -> str:
    """Return the installed version of napari-divnoising (``"unknown"`` from a bare tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-divnoising")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def software_record() -> dict[str, str]:
    """Return the versions, platform and date that every written file records.

    Returns
    -------
    dict
        ``package``, ``package_version``, ``python_version``, ``numpy_version``,
        ``torch_version`` (when torch is loaded), ``platform`` and ``date`` (UTC, ISO 8601).
    """
    record = {
        "package": "napari-divnoising",
        "package_version": package_version(),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if "torch" in sys.modules:
        record["torch_version"] = sys.modules["torch"].__version__
    return record


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
        **software_record(),
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


def model_fingerprint(model: Any) -> str:
    """Return a SHA-256 of everything in a trained model that changes its predictions.

    The network's weights and architecture, the normalisation, the likelihood (the
    noise model's parameters, or the Gaussian's sigma) and the uncertainty calibration's
    scale, when there is one (so an uncalibrated model keeps its earlier fingerprint); not
    its history or provenance.
    Two runs with the same fingerprint and settings give the same results.

    Parameters
    ----------
    model : TrainedModel
        The model.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    head = {
        "network": model.network_config.model_dump(mode="json"),
        "data_mean": float(model.data_mean),
        "data_std": float(model.data_std),
        "gaussian_sigma": model.gaussian_sigma,
    }
    calibration = getattr(model, "uncertainty_calibration", None)
    if calibration is not None:
        head["uncertainty_scale"] = float(calibration.scale)
    digest.update(json.dumps(head, sort_keys=True).encode())
    for key, tensor in sorted(model.network.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    if model.noise_model is not None:
        digest.update(type(model.noise_model).__qualname__.encode())
        for key, value in sorted(vars(model.noise_model).items()):
            digest.update(key.encode())
            digest.update(_value_bytes(value))
    return digest.hexdigest()


def _value_bytes(value: Any) -> bytes:
    """Return the bytes of a noise model attribute (tensors and arrays by content)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value).tobytes()
    return repr(value).encode()
