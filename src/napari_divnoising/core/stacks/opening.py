"""Stacks larger than memory: TIFF, zarr, OME-Zarr and folders of images, opened lazily.

:func:`open_stack` reads a file's header and axes, never its pixels: the planes come out
as a dask array ``(N, Y, X)`` whose chunks are read when a plane is asked for: a TIFF
page by page (tifffile's zarr store), a zarr array or OME-Zarr image chunk by chunk (with
the OME axes and pixel sizes), a folder file by file.

A :class:`~.stack.StackSource` names where the stack lives and how its axes read; it is
all another process (a dask worker) needs to open the same stack again.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..axes import AXES_LETTERS, parse_axes, read_axes
from ..errors import InputError
from ..io import IMAGE_SUFFIXES, check_planes, image_files, read_planes
from ..optional import import_bigdata
from .stack import Stack, StackSource, stack_of
from .zarr_store import ome_letters, ome_multiscale

__all__ = ["is_zarr", "open_source", "open_stack"]


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
        return stack_of(array, source.axes, name=path.name, source=source)
    import tifffile

    zarr = import_bigdata("zarr", purpose="reading TIFF stacks lazily")
    try:
        array = zarr.open_array(tifffile.imread(path, aszarr=True), mode="r")
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    axes = source.axes or read_axes(path)
    if axes is not None and len(axes) != array.ndim:
        axes = None  # tifffile's guess for a squeezed series: fall back to the shape
    return stack_of(array, axes, name=path.name, source=source)


def _open_zarr(path: Path, source: StackSource) -> Stack:
    zarr = import_bigdata("zarr", purpose="reading zarr stores")

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises many types for foreign folders
        raise InputError(f"cannot read {path} as zarr: {err}") from err
    axes, scale = source.axes, {}
    if isinstance(node, zarr.Group):
        multiscale = ome_multiscale(dict(node.attrs))
        if multiscale is None:
            raise InputError(
                f"{path} is a zarr group without OME-Zarr image metadata; "
                "give the path of its array (e.g. {path}/0)"
            )
        letters, scale = ome_letters(multiscale, path.name) if axes is None else (axes, {})
        axes = letters
        node = node[multiscale["datasets"][0]["path"]]
    elif axes is None:
        names = getattr(node.metadata, "dimension_names", None) or ()
        if names and all(str(n).upper() in AXES_LETTERS for n in names):
            axes = "".join(str(n).upper() for n in names)
    return stack_of(node, axes, name=path.name, scale=scale, source=source)


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
