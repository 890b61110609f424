"""Results as OME-Zarr images, written one plane at a time.

Each result of a prediction (MMSE, restored, MAP, uncertainty, samples) is one OME-Zarr
image (NGFF 0.5, one resolution level ``"0"``) with one chunk per plane, so a plane is
written without reading or holding any other. zarr writes each chunk to a temporary file
and renames it into place, so a killed process never leaves a half-written chunk; whether
a plane is *done* is recorded separately (see :mod:`.prediction.chunked`).

The image's attributes carry, under ``"napari_divnoising"``, the run's record: the model,
the settings and the software that made it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import AXES_LETTERS
from ..errors import InputError, OutputError, SettingsError
from ..optional import import_bigdata

__all__ = [
    "RECORD_KEY",
    "create_result_image",
    "ome_axes",
    "ome_letters",
    "ome_multiscale",
    "read_record",
    "result_array",
    "write_plane",
]

#: The attribute of each result image that records how it was made.
RECORD_KEY = "napari_divnoising"
_LEVEL = "0"
_OME = {
    "T": {"name": "t", "type": "time"},
    "Z": {"name": "z", "type": "space"},
    "Y": {"name": "y", "type": "space"},
    "X": {"name": "x", "type": "space"},
}


def ome_axes(axes: str | None, ndim: int, *, samples: bool = False) -> list[dict[str, str]]:
    """Return the OME axes of a result of `ndim` dimensions whose planes have `axes`.

    Parameters
    ----------
    axes : str or None
        Letters of the input's plane layout (``"TZYX"``); None when unknown.
    ndim : int
        Dimensions of the result (with the sample axis, for samples).
    samples : bool
        Whether the first axis holds posterior samples.

    Returns
    -------
    list of dict
        One ``{"name", "type"}`` entry per axis (planes of unknown kind are ``"q"``,
        without a type).

    Raises
    ------
    SettingsError
        If more than one axis would lack an OME type (NGFF allows one).
    """
    letters = axes or "Q" * (ndim - 2 - samples) + "YX"
    entries = [_OME.get(letter, {"name": letter.lower()}) for letter in letters]
    if samples:
        entries.insert(0, {"name": "sample"})
    if sum("type" not in entry for entry in entries) > 1:
        raise SettingsError(
            "kept samples of a stack whose plane axes are unknown cannot be written as "
            "OME-Zarr (it allows one axis of unknown kind); give the stack's axes (e.g. "
            "--axes TYX or ZYX) or keep no samples"
        )
    return [dict(entry) for entry in entries]


#: OME-Zarr axis names and the letters this package gives them.
_OME_LETTERS = {"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}


def ome_multiscale(attributes: Any, name: str = "the store") -> dict | None:
    """Return the first OME multiscale image of a group's attributes (NGFF 0.4 or 0.5).

    Returns None where there is none; the metadata are foreign, so every value is checked
    for type before it is used.

    Raises
    ------
    InputError
        If the attributes declare multiscale images but no dataset to read.
    """
    if not isinstance(attributes, dict):
        return None
    ome = attributes.get("ome")
    multiscales = (ome.get("multiscales") if isinstance(ome, dict) else None) or attributes.get(
        "multiscales"
    )
    if not multiscales:
        return None
    first = multiscales[0] if isinstance(multiscales, list) else None
    datasets = first.get("datasets") if isinstance(first, dict) else None
    dataset = datasets[0] if isinstance(datasets, list) and datasets else None
    if not isinstance(dataset, dict) or not isinstance(dataset.get("path"), str):
        raise InputError(
            f"{name} has OME-Zarr metadata without an image to read: its first multiscale "
            "image needs a list of datasets, each with a path"
        )
    return first


def _axis_name(axis: Any) -> str | None:
    name = axis.get("name") if isinstance(axis, dict) else axis
    return name if isinstance(name, str) else None


def ome_letters(multiscale: dict, name: str) -> tuple[str | None, dict[str, float]]:
    """Return the OME image's axes as letters, and its level-0 pixel size per letter.

    The letters are None where the metadata name no axes (NGFF before 0.3); malformed
    pixel sizes are left out.
    """
    axes = multiscale.get("axes")
    if axes is None:
        return None, {}
    names = [_axis_name(axis) for axis in axes] if isinstance(axes, list) else [None]
    unknown = [str(axis) for axis in names if axis is None or axis.lower() not in _OME_LETTERS]
    if unknown:
        shown = ", ".join(str(axis)[:20] for axis in names[:8])
        raise InputError(
            f"{name} has OME axes {shown}: DivNoising reads t, c, z, y, x; "
            f"pass --axes to say how to read {', '.join(u[:20] for u in unknown[:8])} (one "
            f"letter per axis, from {AXES_LETTERS})"
        )
    letters = "".join(_OME_LETTERS[str(axis).lower()] for axis in names)
    scale: dict[str, float] = {}
    transforms = multiscale["datasets"][0].get("coordinateTransformations")
    for transform in transforms if isinstance(transforms, list) else []:
        if not isinstance(transform, dict) or transform.get("type") != "scale":
            continue
        values = transform.get("scale")
        if isinstance(values, list) and all(_finite(value) for value in values):
            scale = {k: float(v) for k, v in zip(letters, values, strict=False)}
    return letters, scale


def _finite(value: Any) -> bool:
    """Return whether a foreign metadata value is a finite number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def create_result_image(
    path: str | os.PathLike,
    *,
    shape: tuple[int, ...],
    axes: list[dict[str, str]],
    scale: dict[str, float],
    name: str,
    record: dict[str, Any],
) -> None:
    """Create an empty OME-Zarr image for one result, chunked one plane per chunk.

    Parameters
    ----------
    path : str or PathLike
        The ``.ome.zarr`` folder; must not exist.
    shape : tuple of int
        The result's shape.
    axes : list of dict
        From :func:`ome_axes`.
    scale : dict of str to float
        Pixel size per OME axis name (missing ones are 1).
    name : str
        The image's name (``"mmse"``).
    record : dict
        How the result is made (model, settings, software), stored as an attribute.

    Raises
    ------
    OutputError
        If the folder exists or cannot be written.
    """
    zarr = import_bigdata("zarr", purpose="writing OME-Zarr")
    writer = import_bigdata("ome_zarr.writer", purpose="writing OME-Zarr")

    try:
        group = zarr.open_group(str(path), mode="w-")
        # NaN marks a plane not written yet: never mistaken for a result.
        group.create_array(
            _LEVEL,
            shape=shape,
            chunks=(1,) * (len(shape) - 2) + tuple(shape[-2:]),
            dtype=np.float32,
            fill_value=np.nan,
            dimension_names=[axis["name"] for axis in axes],
        )
        transform = [{"type": "scale", "scale": [scale.get(a["name"], 1.0) for a in axes]}]
        writer.write_multiscales_metadata(
            group, [{"path": _LEVEL, "coordinateTransformations": transform}], axes=axes, name=name
        )
        group.attrs[RECORD_KEY] = record
    except (OSError, FileExistsError, zarr.errors.ContainsGroupError) as err:
        raise OutputError(f"cannot create {path}: {err}") from err


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """Return the record of a result image, or None if `path` holds none (foreign)."""
    zarr = import_bigdata("zarr", purpose="reading OME-Zarr")
    try:
        record = zarr.open_group(str(path), mode="r").attrs.get(RECORD_KEY)
    except Exception:  # not a zarr group at all: zarr raises many types
        return None
    return record if isinstance(record, dict) else None


def result_array(path: str | os.PathLike) -> Any:
    """Return the level-0 zarr array of a result image, for writing."""
    zarr = import_bigdata("zarr", purpose="writing OME-Zarr")
    return zarr.open_array(str(Path(path) / _LEVEL), mode="r+")


def write_plane(array: Any, index: tuple[int, ...], plane: np.ndarray) -> None:
    """Write one plane (or, for samples, one plane of every sample) of a result."""
    try:
        if array.ndim == len(index) + 3:  # samples: (K, ..., Y, X)
            array[(slice(None), *index)] = plane
        else:
            array[index] = plane
    except OSError as err:
        raise OutputError(f"cannot write plane {index} of {array.store}: {err}") from err
