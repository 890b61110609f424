"""A trained DivNoising model in memory and on disk.

On disk a model is one zip file (any extension; :data:`MODEL_SUFFIX` by convention) holding:

- ``model.json``: a format marker, the network and training configurations, the data
  normalisation, the Gaussian σ (when there is no noise model), the loss history, the
  uncertainty calibration and the provenance (versions, seed, data shapes, date);
- ``weights.pt``: the network's ``state_dict`` (loaded with ``weights_only=True``);
- ``noise_model/<file>``: the noise model, written by its own ``save``;
- ``direct_weights.pt``: the direct network's ``state_dict``, when the model has one (its
  settings are in ``model.json``).

Saving is atomic (a temporary file in the same folder, then ``os.replace``). Loading a
corrupt, partial or foreign file raises :class:`ModelFileError`. Weights are mapped to the
requested device, so a model trained on a GPU loads on a CPU.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from pickle import UnpicklingError
from typing import TYPE_CHECKING, Any

import torch

from ..errors import ModelFileError, SettingsError
from ..io import atomic_path
from ..limits import MAX_NOISE_MODEL_BYTES, check_member
from ..model.config import MODEL_SUFFIX, DirectConfig
from ..model.device import select_device
from ..model.direct import DirectNetwork, build_direct_network
from ..model.network import build_network
from ..model.trained import TrainedModel
from ..model.uncertainty_calibration import UncertaintyCalibration
from ._bundle_checks import (
    DIRECT_WEIGHTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    META,
    WEIGHTS,
    check_network,
    load_weights,
    read_configs,
    read_direct_config,
    read_meta,
)
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
    networks = [model.network, model.direct_network]
    if any(n is not None and _has_nonfinite_weights(n) for n in networks):
        raise SettingsError("refusing to save a model whose network weights contain NaN or inf")
    if (model.direct_network is None) != (model.direct_config is None):
        raise SettingsError("a direct network needs its `direct_config`, and the reverse")
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
        "direct_config": model.direct_config and model.direct_config.model_dump(mode="json"),
    }
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
        archive.writestr(WEIGHTS, _weights_bytes(model.network))
        if model.direct_network is not None:
            archive.writestr(DIRECT_WEIGHTS, _weights_bytes(model.direct_network))
        archive.writestr(META, json.dumps(meta, indent=1, allow_nan=False))
    return path


def _weights_bytes(network: torch.nn.Module) -> bytes:
    weights = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, weights)
    return weights.getvalue()


#: What reading a damaged bundle raises (besides a bad zip), reported as ModelFileError.
_DAMAGED = (
    KeyError, TypeError, ValueError, RuntimeError, EOFError, OSError, UnpicklingError,
    zlib.error, NotImplementedError,  # a member damaged, or compressed by an unknown method
)  # fmt: skip


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
            try:
                return load_model(bundle, device=device)
            except ModelFileError as err:  # name the user's package, not a temporary file
                named = str(err).replace(repr(str(bundle)), f"{str(path)!r} (its model)")
                raise ModelFileError(named) from err
    try:
        with zipfile.ZipFile(path) as archive:
            model = _read_model(archive, path, device)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as err:
        raise ModelFileError(
            f"{str(path)!r} is not a napari-divnoising model (not a zip file, or truncated)"
        ) from err
    except _DAMAGED as err:  # torch's and pydantic's messages span lines: one line here
        reason = " ".join(str(err).split())
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        raise ModelFileError(
            f"{str(path)!r} is a damaged napari-divnoising model: {reason}"
        ) from err
    networks = [model.network, model.direct_network]
    if any(n is not None and _has_nonfinite_weights(n) for n in networks):
        raise ModelFileError(f"{str(path)!r} holds NaN or infinite network weights")
    model.to(device)
    model.network.eval()
    return model


def _read_model(archive: zipfile.ZipFile, path: Path, device: torch.device) -> TrainedModel:
    """Build the model held by an open bundle; raise KeyError, ValueError... if damaged.

    Everything declared is checked before it costs memory: the network's size and the
    weights' length before the weights are read, both before the network is built.
    """
    meta = read_meta(archive, path)
    network_config, training_config = read_configs(meta, path)
    check_network(archive, network_config, path)
    state = load_weights(archive, path, device)
    noise_model = _read_noise_model(archive, meta, path)
    network = build_network(**network_config.network_kwargs())
    network.load_state_dict(state)
    direct_config, direct_network = _read_direct_network(archive, meta, path, device)
    return TrainedModel(
        network=network,
        network_config=network_config,
        training_config=training_config,
        data_mean=meta["data_mean"],
        data_std=meta["data_std"],
        noise_model=noise_model,
        gaussian_sigma=meta["gaussian_sigma"],
        history=list(meta["history"]),
        provenance=dict(meta["provenance"]),
        uncertainty_calibration=_read_calibration(meta["uncertainty_calibration"]),
        direct_network=direct_network,
        direct_config=direct_config,
    )


def _read_direct_network(
    archive: zipfile.ZipFile, meta: dict[str, Any], path: Path, device: torch.device
) -> tuple[DirectConfig | None, DirectNetwork | None]:
    """Return the direct network's settings and network, or ``(None, None)`` without one."""
    values = meta.get("direct_config")  # absent from files written before it existed
    if values is None:
        return None, None
    config = read_direct_config(values, path)
    check_network(archive, config, path, member=DIRECT_WEIGHTS)
    state = load_weights(archive, path, device, member=DIRECT_WEIGHTS)
    network = build_direct_network(depth=config.depth, n_filters=config.n_filters)
    network.load_state_dict(state)
    return config, network.eval()


def _read_calibration(values: dict[str, Any] | None) -> UncertaintyCalibration | None:
    return None if values is None else UncertaintyCalibration.from_dict(values)


def _read_noise_model(
    archive: zipfile.ZipFile, meta: dict[str, Any], path: Path
) -> NoiseModel | None:
    """Return the noise model stored in the bundle, or None (a Gaussian likelihood)."""
    name = meta["noise_model_file"]
    if not name:
        return None
    info = archive.getinfo(name)  # KeyError: a damaged bundle
    check_member(info, limit=MAX_NOISE_MODEL_BYTES, file=repr(str(path)))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / (Path(name).name or "noise_model.npz")
        with archive.open(info) as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy)
        try:
            return load_noise_model(target)
        except ModelFileError as err:  # name the bundle, not a temporary file
            raise ModelFileError(
                str(err).replace(str(target), f"{str(path)!r} (its noise model {name})")
            ) from err
