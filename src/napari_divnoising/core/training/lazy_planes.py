"""Training planes: checked images, and planes read on demand from a stack on disk.

:func:`prepare_planes` turns the training images into 2-D planes; a lazy stack's planes
stay on disk, read through a plane cache.

A :class:`LazyPlane` stands in for a 2-D float32 plane of a
:class:`~napari_divnoising.core.stacks.Stack`: it has the plane's ``shape`` and ``size``,
and indexing or ``np.asarray`` reads the plane (once, while it stays in the cache). The
training code treats it like an array, so a stack that fits in memory gives exactly the
patches, statistics and results of the same data given as a numpy array.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..stacks import Stack
from ..validation import as_image_stack

__all__ = [
    "PLANE_CACHE_BYTES",
    "LazyPlane",
    "PlaneCache",
    "lazy_planes",
    "plane_statistics",
    "prepare_planes",
]

#: Memory the planes read for training may hold at once.
PLANE_CACHE_BYTES = 1024 * 2**20


class PlaneCache:
    """The most recently used planes of one stack, within a memory budget (LRU).

    Parameters
    ----------
    stack : Stack
        Where the planes are read from.
    max_bytes : int
        The budget; at least one plane is always kept.
    """

    def __init__(self, stack: Stack, *, max_bytes: int = PLANE_CACHE_BYTES) -> None:
        self.stack = stack
        self.max_bytes = max_bytes
        self._planes: OrderedDict[int, np.ndarray] = OrderedDict()
        self.reads = 0

    def plane(self, index: int) -> np.ndarray:
        """Return plane `index` as float32 (read-only), reading it if it is not cached."""
        if index in self._planes:
            self._planes.move_to_end(index)
            return self._planes[index]
        plane = self.stack.read_plane(index)
        plane.setflags(write=False)  # shared by every patch cut from it
        self.reads += 1
        self._planes[index] = plane
        while len(self._planes) > 1 and self.nbytes > self.max_bytes:
            self._planes.popitem(last=False)
        return plane

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached planes."""
        return sum(plane.nbytes for plane in self._planes.values())


class LazyPlane:
    """One plane of a stack, read from a :class:`PlaneCache` when its pixels are needed."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, cache: PlaneCache, index: int) -> None:
        self.cache, self.index = cache, index
        self.shape = cache.stack.plane_shape

    @property
    def size(self) -> int:
        """Number of pixels."""
        return self.shape[0] * self.shape[1]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.cache.plane(self.index)[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        plane = self.cache.plane(self.index)
        return plane if dtype is None else plane.astype(dtype)

    def __repr__(self) -> str:
        return f"LazyPlane({self.cache.stack.name!r}, {self.index}, shape={self.shape})"


def lazy_planes(stack: Stack, *, max_bytes: int = PLANE_CACHE_BYTES) -> list[LazyPlane]:
    """Return the planes of `stack` as :class:`LazyPlane` objects sharing one cache."""
    cache = PlaneCache(stack, max_bytes=max_bytes)
    return [LazyPlane(cache, index) for index in range(stack.n_planes)]


def prepare_planes(
    images: np.ndarray | Sequence[np.ndarray], *, patch_size: int, size_multiple: int
) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """Validate images and return their 2D float32 planes and the original shapes.

    Parameters
    ----------
    images : ndarray or sequence of ndarray
        One image or stack ``(..., Y, X)``, or a list of them (sizes may differ).
    patch_size : int
        Side of the training patches; every plane must be at least this large.
    size_multiple : int
        The network's size multiple, used to suggest a smaller patch size.

    Returns
    -------
    planes : list of ndarray
        Float32 2D planes (copies; the input is never modified).
    shapes : list of tuple
        The shape of every input image, for provenance.
    """
    if isinstance(images, np.ndarray) or not isinstance(images, Sequence):
        images = [images]
    if len(images) == 0:
        raise InputError("no images were given to train on (got an empty list)")
    planes: list[np.ndarray] = []
    shapes: list[tuple[int, ...]] = []
    for index, image in enumerate(images):
        name = "image" if len(images) == 1 else f"image {index}"
        if isinstance(image, Stack):  # read plane by plane while training: never whole
            stack, shape, (height, width) = lazy_planes(image), image.layout, image.plane_shape
        else:
            stack, shape = as_image_stack(image, name=name), np.shape(image)
            height, width = stack.shape[-2:]
        if min(height, width) < patch_size:
            largest = (min(height, width) // size_multiple) * size_multiple
            hint = (
                f"use a patch size of at most {largest} (a multiple of {size_multiple})"
                if largest >= 8
                else "use larger images"
            )
            raise InputError(
                f"`{name}` is {height}×{width} pixels but training patches are "
                f"{patch_size}×{patch_size}: images must be at least {patch_size}×{patch_size}; "
                + hint
            )
        shapes.append(tuple(int(s) for s in shape))
        planes.extend(stack)
    return planes, shapes


def plane_statistics(planes: list[np.ndarray]) -> tuple[float, float, tuple[float, float]]:
    """Return the mean, variance and range of all pixels, one plane in memory at a time.

    Exact float64 sums plane by plane (two passes): no copy of all the data at once.
    """
    n_pixels = sum(p.size for p in planes)
    mean = sum(float(np.asarray(p).sum(dtype=np.float64)) for p in planes) / n_pixels
    variance = 0.0
    low, high = math.inf, -math.inf
    for plane in planes:
        pixels = np.asarray(plane)
        variance += float(np.square(pixels - mean, dtype=np.float64).sum())
        low, high = min(low, float(pixels.min())), max(high, float(pixels.max()))
    return mean, variance / n_pixels, (low, high)
