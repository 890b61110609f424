"""Stacks larger than memory: TIFF, zarr, OME-Zarr and folders of images, opened lazily.

:func:`open_stack` reads a file's header and axes, never its pixels: the planes come out
as a dask array ``(N, Y, X)`` whose chunks are read when a plane is asked for: a TIFF
page by page (tifffile's zarr store), a zarr array or OME-Zarr image chunk by chunk (with
the OME axes and pixel sizes), a folder file by file.

A :class:`~.stack.StackSource` names where the stack lives and how its axes read; it is
all another process (a dask worker) needs to open the same stack again.

The headers are foreign: their metadata files are size-bounded, their values checked for
type, and the planes, plane count and chunking they declare are held to
:mod:`~napari_divnoising.core.limits` before any plane is read.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import AXES_LETTERS, parse_axes, plane_layout, read_axes
from ..errors import InputError
from ..headers import check_tiff_extent
from ..io import IMAGE_SUFFIXES, check_planes, image_files, read_planes
from ..limits import (
    MAX_METADATA_BYTES,
    check_in_memory,
    check_stack,
    loads_json,
    size_text,
)
from ..optional import import_bigdata
from .stack import Stack, StackSource, stack_of
from .zarr_store import ome_letters, ome_multiscale

__all__ = ["is_zarr", "open_source", "open_stack"]

#: The metadata files of a zarr node (v3, v2 and v2's consolidated metadata).
_METADATA_FILES = ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def is_zarr(path: str | os.PathLike) -> bool:
    """Return whether `path` is a zarr store (v2 or v3, array or group)."""
    path = Path(path)
    markers = ("zarr.json", ".zarray", ".zgroup")
    return path.is_dir() and (
        path.suffix.lower() == ".zarr" or any((path / m).is_file() for m in markers)
    )


def open_stack(path: str | os.PathLike, *, axes: str | None = None) -> Stack:
    """Open a TIFF, ``.npy``, zarr / OME-Zarr or folder of images as a lazy stack.

    Parameters
    ----------
    path : str or PathLike
        The image file, store or folder.
    axes : str, optional
        One letter per axis of the stored array (e.g. ``"TZYX"``), overriding the
        metadata; for a folder, the axes of each of its files.

    Returns
    -------
    Stack
        Its planes, read lazily.

    Raises
    ------
    InputError
        If nothing readable is there, or its axes are not independent Y, X planes (too
        few dimensions, channels, RGB, 4+ dimensions without axes, unknown OME axes).
    SettingsError
        If `axes` is not a valid axes string for the array.
    """
    return open_source(StackSource(str(Path(path)), None if axes is None else parse_axes(axes)))


def open_source(source: StackSource) -> Stack:
    """Open the stack a :class:`StackSource` names (see :func:`open_stack`)."""
    path = Path(source.path)
    if is_zarr(path):
        return _open_zarr(path, source)
    if path.is_dir():
        return _open_folder(path, source)
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(
            f"cannot read {path.name}: expected a TIFF or .npy file, a .zarr / .ome.zarr "
            "store or a folder of images"
        )
    return _open_file(path, source)


def _open_file(path: Path, source: StackSource) -> Stack:
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as err:  # numpy raises many types for broken files
            raise InputError(f"cannot read {path}: {err}") from err
        return _checked_stack(array, source.axes, name=path.name, source=source)
    import tifffile

    zarr = import_bigdata("zarr", purpose="reading TIFF stacks lazily")
    try:
        with tifffile.TiffFile(path) as tif:  # as tifffile.imread(path, aszarr=True)
            if tif.series:
                check_tiff_extent(tif.series[0], size=path.stat().st_size, name=path.name)
            store = tif.aszarr()
        array = zarr.open_array(store, mode="r")
    except InputError:
        raise
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    axes = source.axes or read_axes(path)
    if axes is not None and len(axes) != array.ndim:
        axes = None  # tifffile's guess for a squeezed series: fall back to the shape
    return _checked_stack(array, axes, name=path.name, source=source)


def _checked_stack(array: Any, axes: str | None, **details: Any) -> Stack:
    """Return :func:`stack_of`'s stack once the planes `array` declares pass the limits."""
    shape, name = tuple(int(n) for n in array.shape), details["name"]
    if axes is not None:
        axes = parse_axes(axes, len(shape), name=f"{name} (shape {shape})")
    if len(shape) >= 2 and 0 not in shape:
        order, layout = plane_layout(shape, axes, name=name)
        stored = getattr(array, "chunks", None)
        yx = order[len(layout) - 2 : len(layout)]
        chunks = (stored[yx[0]], stored[yx[1]]) if isinstance(stored, tuple) else None
        itemsize = np.dtype(array.dtype).itemsize
        check_stack(layout, chunks=chunks, itemsize=itemsize, name=name)
        if chunks is not None:  # a chunk is decoded whole, also where it passes the edges
            what = f"one stored chunk ({' × '.join(map(str, stored))} pixels)"
            check_in_memory(math.prod(stored) * itemsize, what=what, file=name)
    return stack_of(array, axes, **details)


def _check_metadata(folder: Path) -> None:
    """Refuse zarr metadata too large or too deeply nested to be metadata (read whole)."""
    for name in _METADATA_FILES:
        size = (folder / name).stat().st_size if (folder / name).is_file() else 0
        if size > MAX_METADATA_BYTES:
            raise InputError(
                f"{folder.name}: its {name} holds {size_text(size)}; zarr metadata may "
                f"hold at most {size_text(MAX_METADATA_BYTES)}"
            )
        if size:  # zarr and dask walk the values recursively: bound their nesting first
            text = (folder / name).read_bytes()
            loads_json(text, file=folder.name, what=f"its {name}", error=InputError)


def _open_zarr(path: Path, source: StackSource) -> Stack:
    zarr = import_bigdata("zarr", purpose="reading zarr stores")

    _check_metadata(path)
    try:
        node = zarr.open(str(path), mode="r")
        attributes = dict(node.attrs) if isinstance(node, zarr.Group) else {}
    except Exception as err:  # zarr raises many types for foreign folders
        raise InputError(f"cannot read {path} as zarr: {err}") from err
    axes, scale = source.axes, {}
    if isinstance(node, zarr.Group):
        multiscale = ome_multiscale(attributes, path.name)
        if multiscale is None:
            raise InputError(
                f"{path} is a zarr group without OME-Zarr image metadata; "
                f"give the path of its array (e.g. {path}/0)"
            )
        letters, scale = ome_letters(multiscale, path.name) if axes is None else (axes, {})
        axes = letters
        node = _dataset(zarr, node, path, multiscale["datasets"][0]["path"])
    elif axes is None:
        names = getattr(node.metadata, "dimension_names", None) or ()
        if names and all(str(n).upper() in AXES_LETTERS for n in names):
            axes = "".join(str(n).upper() for n in names)
    return _checked_stack(node, axes, name=path.name, scale=scale, source=source)


def _dataset(zarr: Any, group: Any, path: Path, name: str) -> Any:
    """Return the array an OME-Zarr image names as its first dataset."""
    _check_metadata(path / name)
    try:
        node = group[name]
    except Exception as err:  # zarr raises many types for a missing or foreign node
        raise InputError(f"cannot read dataset {name!r:.80} of {path}: {err}") from err
    if not isinstance(node, zarr.Array):
        raise InputError(f"dataset {name!r:.80} of {path} is not an array")
    return node


def _open_folder(path: Path, source: StackSource) -> Stack:
    import dask
    import dask.array as da

    files = image_files(path)
    layouts = [check_planes(file, axes=source.axes) for file in files]
    plane_shapes = {layout[-2:] for layout in layouts}
    if len(plane_shapes) > 1:
        raise InputError(
            f"the images of folder {path} have different plane sizes "
            f"({', '.join(f'{y}×{x}' for y, x in sorted(plane_shapes))}); "
            "a stack needs planes of one size"
        )
    (plane_shape,) = plane_shapes
    parts = [
        da.from_delayed(
            dask.delayed(_read_file_planes)(file, source.axes),
            shape=(math.prod(layout[:-2]), *plane_shape),
            dtype=np.float32,
        )
        for file, layout in zip(files, layouts, strict=True)
    ]
    planes = da.concatenate(parts)
    return Stack(planes, tuple(planes.shape), None, {}, source, path.name)


def _read_file_planes(path: Path, axes: str | None) -> np.ndarray:
    planes = read_planes(path, axes=axes)
    return planes.reshape((-1, *planes.shape[-2:])).astype(np.float32, copy=False)
