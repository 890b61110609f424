"""A stack of 2-D planes read lazily, from any array (a dask, zarr or numpy array).

:mod:`.opening` opens files, stores and folders as such stacks.

:func:`open_stack` reads a file's header and axes, never its pixels: the planes come out
as a dask array ``(N, Y, X)`` whose chunks are read when a plane is asked for: a TIFF
page by page (tifffile's zarr store), a zarr array or OME-Zarr image chunk by chunk (with
the OME axes and pixel sizes), a folder file by file.

A :class:`StackSource` names where the stack lives and how its axes read; it is all another
process (a dask worker) needs to open the same stack again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..axes import parse_axes, plane_layout
from ..errors import InputError

__all__ = ["Stack", "StackSource", "stack_from_array", "stack_of"]


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
    return stack_of(array, axes, name=name)


def stack_of(
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
