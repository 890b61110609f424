"""Stacks larger than memory: TIFF, zarr, OME-Zarr and folders of images, opened lazily.

:func:`open_stack` reads a file's header and axes, never its pixels: the planes come out
as a dask array ``(N, Y, X)`` whose chunks are read when a plane is asked for: a TIFF
page by page (tifffile's zarr store), a zarr array or OME-Zarr image chunk by chunk (with
the OME axes and pixel sizes), a folder file by file.

A :class:`StackSource` names where the stack lives and how its axes read; it is all another
process (a dask worker) needs to open the same stack again.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import AXES_LETTERS, parse_axes, plane_layout, read_axes
from ..errors import InputError
from ..io import IMAGE_SUFFIXES, check_planes, image_files, read_planes
from ..optional import import_bigdata
from .zarr_store import ome_letters, ome_multiscale

__all__ = ["Stack", "StackSource", "is_zarr", "open_source", "open_stack", "stack_from_array"]


@dataclass(frozen=True)
class StackSource:
    """Where a stack lives and the axes it was opened with (small, picklable).

    Attributes
    ----------
    path : str
        A TIFF or ``.npy`` file, a zarr / OME-Zarr store, or a folder of images.
    axes : str or None
        The axes the user gave; None: those of the file's metadata.
    """

    path: str
    axes: str | None = None


@dataclass(frozen=True, eq=False)
class Stack:
    """A stack of 2-D planes, read lazily.

    Attributes
    ----------
    planes : dask.array.Array
        ``(N, Y, X)``, in the file's dtype; indexing and ``compute`` read only what is
        asked for.
    layout : tuple of int
        The shape of the results: the plane axes in their order, then Y, X.
    axes : str or None
        One letter per axis of `layout` (e.g. ``"TZYX"``), or None when unknown.
    scale : dict of str to float
        Pixel size per axis letter of `axes`, where the metadata gives one.
    source : StackSource or None
        How to open the same stack in another process; None for an in-memory array.
    name : str
        How the stack is called in messages.
    """

    planes: Any
    layout: tuple[int, ...]
    axes: str | None
    scale: dict[str, float] = field(default_factory=dict)
    source: StackSource | None = None
    name: str = "image"

    @property
    def n_planes(self) -> int:
        """Number of 2-D planes."""
        return int(self.planes.shape[0])

    @property
    def plane_shape(self) -> tuple[int, int]:
        """``(Y, X)`` of every plane."""
        return int(self.planes.shape[1]), int(self.planes.shape[2])

    def read_plane(self, index: int) -> np.ndarray:
        """Read plane `index` as float32; raise if it holds NaN or infinite values.

        Raises
        ------
        InputError
            If the plane cannot be read or holds NaN/inf.
        """
        try:
            plane = np.asarray(self.planes[index].compute(scheduler="synchronous"))
        except Exception as err:  # zarr, tifffile and codecs raise many types
            raise InputError(f"cannot read plane {index} of {self.name}: {err}") from err
        plane = plane.astype(np.float32, copy=False)
        if not np.isfinite(plane).all():
            bad = int(np.size(plane) - np.count_nonzero(np.isfinite(plane)))
            raise InputError(
                f"plane {index} of {self.name} holds {bad} NaN or infinite values; "
                "DivNoising needs finite intensities (replace them, e.g. by the median)"
            )
        return plane


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


def stack_from_array(array: Any, *, axes: str | None = None, name: str = "image") -> Stack:
    """Wrap an in-memory, dask or zarr array (a napari layer's data) as a :class:`Stack`.

    Parameters
    ----------
    array : array_like
        numpy, dask or zarr array.
    axes : str, optional
        One letter per axis; None: a 2-D image or a 3-D stack of planes.
    name : str
        How it is called in messages.

    Returns
    -------
    Stack
    """
    return _stack(array, axes, name=name)


def _stack(
    array: Any,
    axes: str | None,
    *,
    name: str,
    scale: dict[str, float] | None = None,
    source: StackSource | None = None,
) -> Stack:
    """Check `array`'s layout from its shape only and return its planes, lazily."""
    import dask.array as da

    shape = tuple(int(n) for n in array.shape)
    if axes is not None:
        axes = parse_axes(axes, len(shape), name=f"{name} (shape {shape})")
    _check_header(shape, np.dtype(array.dtype), axes, name)
    order, layout = plane_layout(shape, axes, name=name)
    lazy = array if isinstance(array, da.Array) else da.from_array(array, chunks=_chunks(array))
    planes = lazy.transpose(order).reshape(layout).reshape((-1, *layout[-2:]))
    kept = None if axes is None else "".join(axes[i] for i in order[: len(layout)])
    kept_scale = {k: v for k, v in (scale or {}).items() if kept and k in kept}
    return Stack(planes, tuple(layout), kept, kept_scale, source, name)


def _chunks(array: Any) -> Any:
    """Return a stored array's own chunks (one read each), else one chunk per plane."""
    stored = getattr(array, "chunks", None)
    if isinstance(stored, tuple) and all(isinstance(n, int) for n in stored):
        return stored
    return (1,) * (array.ndim - 2) + tuple(array.shape[-2:])


def _check_header(shape: tuple[int, ...], dtype: np.dtype, axes: str | None, name: str) -> None:
    if dtype.kind not in "iuf":
        raise InputError(
            f"{name} must hold integer or floating-point intensities (got dtype {dtype}); "
            "labels, masks and complex data cannot be denoised"
        )
    if len(shape) < 2:
        raise InputError(f"{name} must be 2-D (Y, X) or a stack of planes (got shape {shape})")
    if axes is None and len(shape) == 3 and shape[-1] in (3, 4) and shape[-2] > 4:
        raise InputError(
            f"{name} looks like an RGB(A) colour image (shape {shape}); DivNoising needs "
            "single-channel camera data — split the channels first, or give its axes"
        )
    if 0 in shape:
        raise InputError(f"{name} holds no pixels (shape {shape})")


def _open_file(path: Path, source: StackSource) -> Stack:
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as err:  # numpy raises many types for broken files
            raise InputError(f"cannot read {path}: {err}") from err
        return _stack(array, source.axes, name=path.name, source=source)
    import tifffile

    zarr = import_bigdata("zarr", purpose="reading TIFF stacks lazily")
    try:
        array = zarr.open_array(tifffile.imread(path, aszarr=True), mode="r")
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    axes = source.axes or read_axes(path)
    if axes is not None and len(axes) != array.ndim:
        axes = None  # tifffile's guess for a squeezed series: fall back to the shape
    return _stack(array, axes, name=path.name, source=source)


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
    return _stack(node, axes, name=path.name, scale=scale, source=source)


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
