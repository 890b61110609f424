"""What a model bundle declares, checked before any weight is read or any network built.

``model.json`` is read with its size and nesting bounded; its values are checked for type;
the network it declares is counted without allocating it (on torch's ``meta`` device) and
held to :data:`~napari_divnoising.core.limits.MAX_NETWORK_PARAMETERS` and the machine's
memory; ``weights.pt`` must be as long as those parameters need, no shorter and no longer,
before a byte of it is read; a pickle that holds more than tensors is refused.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from pickle import UnpicklingError
from typing import Any

import torch
from pydantic import ValidationError

from ..errors import ModelFileError, settings_error_from
from ..limits import (
    MAX_MODEL_JSON_BYTES,
    MAX_NETWORK_PARAMETERS,
    PARAMETER_BYTES,
    WEIGHTS_SLACK_BYTES,
    check_in_memory,
    check_member,
    loads_json,
    read_member,
    size_text,
)
from ..model.config import DirectConfig, NetworkConfig, TrainingConfig
from ..model.direct import DirectNetwork
from ..model.network import DivNoisingVAE

__all__ = [
    "DIRECT_WEIGHTS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "check_network",
    "load_weights",
    "read_configs",
    "read_direct_config",
    "read_meta",
]

FORMAT_NAME = "napari-divnoising-model"
FORMAT_VERSION = 1
META = "model.json"
WEIGHTS = "weights.pt"
DIRECT_WEIGHTS = "direct_weights.pt"


def read_meta(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """Return ``model.json`` of an open bundle, its values checked for type."""
    try:
        data = read_member(archive, META, limit=MAX_MODEL_JSON_BYTES, file=repr(str(path)))
    except KeyError as err:
        raise ModelFileError(
            f"{str(path)!r} is a zip file but not a napari-divnoising model (no {META})"
        ) from err
    meta = loads_json(data, file=repr(str(path)), what=META)
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
    return meta | _checked_values(meta, path)


def _number(meta: dict[str, Any], key: str, path: Path, *, optional: bool = False) -> Any:
    value = meta.get(key)
    if value is None and optional:
        return None
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number):
        raise ModelFileError(f"{str(path)!r}: {META} gives `{key}` as {value!r:.80}; a finite "
                             "number is expected")  # fmt: skip
    return float(number)


def _checked_values(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """Return the values of `meta` that a model is built from, each of its expected type."""
    kinds = {
        "network_config": dict, "training_config": dict, "history": list,
        "provenance": dict, "uncertainty_calibration": (dict, type(None)),
        "noise_model_file": (str, type(None)), "direct_config": (dict, type(None)),
    }  # fmt: skip
    defaults = {"history": [], "provenance": {}}
    values: dict[str, Any] = {key: meta.get(key, defaults.get(key)) for key in kinds}
    for key, kind in kinds.items():
        if not isinstance(values[key], kind):
            raise ModelFileError(
                f"{str(path)!r}: {META} gives `{key}` as {values[key]!r:.80}, not a "
                f"{'mapping' if kind is dict else 'list' if kind is list else 'name'}"
            )
    if not all(isinstance(entry, dict) for entry in values["history"]):
        raise ModelFileError(f"{str(path)!r}: {META} has a `history` entry that is not a mapping")
    values["data_mean"] = _number(meta, "data_mean", path)
    values["data_std"] = _number(meta, "data_std", path)
    values["gaussian_sigma"] = _number(meta, "gaussian_sigma", path, optional=True)
    return values


def read_configs(meta: dict[str, Any], path: Path) -> tuple[NetworkConfig, TrainingConfig]:
    """Return the network and training configurations `meta` holds; one line if invalid."""
    configs = []
    for key, kind in (("network_config", NetworkConfig), ("training_config", TrainingConfig)):
        try:
            configs.append(kind.model_validate(meta[key]))
        except ValidationError as err:
            text = (
                f"{str(path)!r} is a damaged napari-divnoising model: {META} has an invalid "
                f"`{key}`: {settings_error_from(err)}"
            )
            raise ModelFileError(text if len(text) <= 400 else text[:397] + "...") from err
    return configs[0], configs[1]


def read_direct_config(values: Any, path: Path) -> DirectConfig:
    """Return the direct network's settings `values` describe; one line if invalid."""
    try:
        return DirectConfig.model_validate(values)
    except ValidationError as err:
        text = (
            f"{str(path)!r} is a damaged napari-divnoising model: {META} has an invalid "
            f"`direct_config`: {settings_error_from(err)}"
        )
        raise ModelFileError(text if len(text) <= 400 else text[:397] + "...") from err


def parameter_count(config: NetworkConfig | DirectConfig) -> int:
    """Return the parameters of the network `config` declares, allocating none of them."""
    with torch.device("meta"):
        if isinstance(config, DirectConfig):
            network = DirectNetwork(depth=config.depth, n_filters=config.n_filters)
        else:
            network = DivNoisingVAE(**config.network_kwargs())
    return sum(parameter.numel() for parameter in network.parameters())


def check_network(
    archive: zipfile.ZipFile,
    config: NetworkConfig | DirectConfig,
    path: Path,
    *,
    member: str = WEIGHTS,
) -> None:
    """Refuse a declared network above the limits, or weights of the wrong length, unread.

    Raises
    ------
    ModelFileError
        Naming the file, what it declares and the limit.
    """
    count = parameter_count(config)
    if count > MAX_NETWORK_PARAMETERS:
        raise ModelFileError(
            f"{str(path)!r} declares a network of {count:,} parameters; napari-divnoising "
            f"reads networks of at most {MAX_NETWORK_PARAMETERS:,}"
        )
    # The weights as read, and the network they are copied into.
    check_in_memory(2 * 4 * count, what="its network", file=repr(str(path)), error=ModelFileError)
    info = archive.getinfo(member)  # KeyError: a damaged bundle
    low, high = (count * n for n in PARAMETER_BYTES)
    high += WEIGHTS_SLACK_BYTES
    if info.file_size < low:
        raise ModelFileError(
            f"{str(path)!r} is a damaged napari-divnoising model: its {member} holds "
            f"{size_text(info.file_size)}, but the network it declares ({count:,} parameters) "
            f"takes at least {size_text(low)}"
        )
    if info.file_size > high:
        raise ModelFileError(
            f"{str(path)!r}: its member {member} declares {size_text(info.file_size)}, but "
            f"the network it declares ({count:,} parameters) takes at most {size_text(high)}"
        )
    check_member(info, limit=high, file=repr(str(path)))


def load_weights(
    archive: zipfile.ZipFile, path: Path, device: torch.device, *, member: str = WEIGHTS
) -> dict[str, Any]:
    """Return the state dict of `member` (checked by :func:`check_network` first).

    Raises
    ------
    ModelFileError
        If the pickle holds anything but tensors (code, other objects): refused, never run.
    """
    data = io.BytesIO(archive.read(member))
    try:
        state = torch.load(data, map_location=device, weights_only=True)
    except UnpicklingError as err:
        # torch's message advises loading with weights_only=False: never pass that on.
        raise ModelFileError(
            f"{str(path)!r}: its {member} holds code or objects that a model file must "
            "not contain; refused for safety (nothing of it was run)"
        ) from err
    if not isinstance(state, dict):
        raise ModelFileError(f"{str(path)!r}: its {member} holds no network weights")
    return state
