"""A trained DivNoising model in memory and on disk.

On disk a model is one zip file (any extension; :data:`MODEL_SUFFIX` by convention) holding:

- ``model.json``: a format marker, the network and training configurations, the data
  normalisation, the Gaussian σ (when there is no noise model), the loss history, the
  uncertainty calibration and the provenance (versions, seed, data shapes, date);
- ``weights.pt``: the network's ``state_dict`` (loaded with ``weights_only=True``);
- ``noise_model/<file>``: the noise model, written by its own ``save``.

Saving is atomic (a temporary file in the same folder, then ``os.replace``). Loading a
corrupt, partial or foreign file raises :class:`ModelFileError`. Weights are mapped to the
requested device, so a model trained on a GPU loads on a CPU.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from pickle import UnpicklingError
from typing import TYPE_CHECKING, Any

import torch

from ..errors import ModelFileError, SettingsError
from ..io import atomic_path
from ..model.config import MODEL_SUFFIX, NetworkConfig, TrainingConfig
from ..model.device import select_device
from ..model.network import build_network
from ..model.trained import TrainedModel
from ..model.uncertainty_calibration import UncertaintyCalibration
from .bioimageio_reading import is_bioimageio_package, packaged_bundle
from .noise_model_file import load_noise_model

if TYPE_CHECKING:
    from ..noise_model.base import NoiseModel

__all__ = [
    "FORMAT_NAME",
    "MODEL_SUFFIX",
    "load_model",
    "save_model",
]

#: Conventional suffix of a saved model (a zip file).
FORMAT_NAME = "napari-divnoising-model"
FORMAT_VERSION = 1
_META = "model.json"
_WEIGHTS = "weights.pt"
_NOISE_DIR = "noise_model/"


def _has_nonfinite_weights(network: torch.nn.Module) -> bool:
    return any(not torch.isfinite(t).all() for t in network.state_dict().values())


def save_model(model: TrainedModel, path: str | os.PathLike[str]) -> Path:
    """Write `model` to one zip file at `path`, atomically.

    Parameters
    ----------
    model : TrainedModel
        The model to save.
    path : path-like
        Destination file; its folder must exist. An existing file is replaced.

    Returns
    -------
    Path

    Raises
    ------
    SettingsError
        If the network holds NaN or infinite weights.
    """
    path = Path(path)
    if _has_nonfinite_weights(model.network):
        raise SettingsError("refusing to save a model whose network weights contain NaN or inf")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist")
    calibration = model.uncertainty_calibration
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "network_config": model.network_config.model_dump(mode="json"),
        "training_config": model.training_config.model_dump(mode="json"),
        "data_mean": float(model.data_mean),
        "data_std": float(model.data_std),
        "gaussian_sigma": None if model.gaussian_sigma is None else float(model.gaussian_sigma),
        "noise_model_file": None,
        "history": model.history,
        "provenance": model.provenance,
        "uncertainty_calibration": calibration and calibration.to_dict(),
    }
    weights = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.network.state_dict().items()}
    torch.save(state, weights)
    with (
        atomic_path(path) as temporary,
        zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        if model.noise_model is not None:
            with tempfile.TemporaryDirectory() as folder:
                model.noise_model.save(Path(folder) / "noise_model")
                written = sorted(p for p in Path(folder).iterdir() if p.is_file())
                if len(written) != 1:
                    raise RuntimeError(
                        f"the noise model wrote {len(written)} files; expected exactly one"
                    )
                meta["noise_model_file"] = _NOISE_DIR + written[0].name
                archive.write(written[0], meta["noise_model_file"])
        archive.writestr(_WEIGHTS, weights.getvalue())
        archive.writestr(_META, json.dumps(meta, indent=1, allow_nan=False))
    return path


def _read_meta(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(archive.read(_META))
    except KeyError as err:
        raise ModelFileError(
            f"{str(path)!r} is a zip file but not a napari-divnoising model (no {_META})"
        ) from err
    except (ValueError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{str(path)!r}: {_META} is damaged ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{str(path)!r} is not a napari-divnoising model (wrong format marker)"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has model format version {version!r}; this version of "
            f"napari-divnoising reads versions up to {FORMAT_VERSION} — update the package"
        )
    return meta


#: What reading a damaged bundle raises (besides a bad zip), reported as ModelFileError.
_DAMAGED = (KeyError, TypeError, ValueError, RuntimeError, EOFError, OSError, UnpicklingError)


def load_model(
    path: str | os.PathLike[str], *, device: torch.device | str | None = None
) -> TrainedModel:
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : path-like
        The model file, or a bioimage.io package exported by napari-divnoising.
    device : torch.device or str, optional
        Where to put the network: ``"cpu"`` (default), ``"cuda"``, ``"mps"`` or ``"auto"``.
        Weights saved on any device load here.

    Returns
    -------
    TrainedModel
        The model, in evaluation mode.

    Raises
    ------
    ModelFileError
        If the file is not a zip, is truncated or damaged, or not written by us.
    ValueError
        If `device` is not available on this machine.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    # The device first: a missing GPU is reported as such, not as a damaged file.
    device = torch.device("cpu") if device is None else select_device(str(device)).device
    if is_bioimageio_package(path):
        with packaged_bundle(path) as bundle:
            return load_model(bundle, device=device)
    try:
        with zipfile.ZipFile(path) as archive:
            model = _read_model(archive, path, device)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as err:
        raise ModelFileError(
            f"{str(path)!r} is not a napari-divnoising model (not a zip file, or truncated)"
        ) from err
    except _DAMAGED as err:
        raise ModelFileError(f"{str(path)!r} is a damaged napari-divnoising model: {err}") from err
    if _has_nonfinite_weights(model.network):
        raise ModelFileError(f"{str(path)!r} holds NaN or infinite network weights")
    model.to(device)
    model.network.eval()
    return model


def _read_model(archive: zipfile.ZipFile, path: Path, device: torch.device) -> TrainedModel:
    """Build the model held by an open bundle; raise KeyError, ValueError... if damaged."""
    meta = _read_meta(archive, path)
    state = torch.load(io.BytesIO(archive.read(_WEIGHTS)), map_location=device, weights_only=True)
    noise_model = _read_noise_model(archive, meta)
    network_config = NetworkConfig.model_validate(meta["network_config"])
    training_config = TrainingConfig.model_validate(meta["training_config"])
    network = build_network(**network_config.network_kwargs())
    network.load_state_dict(state)
    return TrainedModel(
        network=network,
        network_config=network_config,
        training_config=training_config,
        data_mean=float(meta["data_mean"]),
        data_std=float(meta["data_std"]),
        noise_model=noise_model,
        gaussian_sigma=meta.get("gaussian_sigma"),
        history=list(meta.get("history", [])),
        provenance=dict(meta.get("provenance", {})),
        uncertainty_calibration=_read_calibration(meta.get("uncertainty_calibration")),
    )


def _read_calibration(values: dict[str, Any] | None) -> UncertaintyCalibration | None:
    return None if values is None else UncertaintyCalibration.from_dict(values)


def _read_noise_model(archive: zipfile.ZipFile, meta: dict[str, Any]) -> NoiseModel | None:
    """Return the noise model stored in the bundle, or None (a Gaussian likelihood)."""
    if not meta.get("noise_model_file"):
        return None
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / Path(meta["noise_model_file"]).name
        target.write_bytes(archive.read(meta["noise_model_file"]))
        return load_noise_model(target)
