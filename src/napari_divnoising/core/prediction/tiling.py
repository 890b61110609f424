"""Overlapping tiles with smooth blending, for predictions on images of any size.

A plane is cut into tiles whose sides and origins are multiples of the network's
``size_multiple``, so every tile sees the same latent grid as the whole image would.
Tiles overlap; each tile's output is weighted by a separable window that is zero within
the network's receptive radius of an inner tile edge (where zero padding inside the
network changes the output) and rises as a squared sine across the rest of the overlap.
The weights of two neighbours sum to one there, and the blend is divided by the sum of
all weights, which is separable too, so no 2D weight image is ever held. Pixels past the
image's bottom and right edges are mirrored (reflect padding) and cropped afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SettingsError

__all__ = [
    "Tile",
    "TileBlend",
    "TileGrid",
    "blend_window",
    "extract_tile",
    "make_tile_grid",
]


@dataclass(frozen=True)
class Tile:
    """One tile: origin and size in image pixels (may extend past the image's end)."""

    y: int
    x: int
    height: int
    width: int


@dataclass(frozen=True)
class TileGrid:
    """A grid of overlapping tiles over one 2D plane.

    Attributes
    ----------
    shape : tuple of int
        Height and width of the plane.
    starts_y, starts_x : tuple of int
        Tile origins along each axis.
    tile_shape : tuple of int
        Height and width of every tile.
    margin : int
        Pixels at an inner tile edge that get zero weight.
    ramp : int
        Pixels over which the weight rises from 0 to 1 after the margin.
    """

    shape: tuple[int, int]
    starts_y: tuple[int, ...]
    starts_x: tuple[int, ...]
    tile_shape: tuple[int, int]
    margin: int
    ramp: int

    def __len__(self) -> int:
        return len(self.starts_y) * len(self.starts_x)

    def __iter__(self) -> Iterator[Tile]:
        for y in self.starts_y:
            for x in self.starts_x:
                yield Tile(y, x, *self.tile_shape)

    def weights(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """Return the tile's separable blending weights along y and x."""
        padded_y = self.starts_y[-1] + self.tile_shape[0]
        padded_x = self.starts_x[-1] + self.tile_shape[1]
        return (
            self._axis_weights(tile.y, tile.height, padded_y),
            self._axis_weights(tile.x, tile.width, padded_x),
        )

    def normalisers(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the summed weights along y and x, over the plane (cropped)."""
        sums = []
        for axis, starts in enumerate((self.starts_y, self.starts_x)):
            size = self.tile_shape[axis]
            total = np.zeros(starts[-1] + size, dtype=np.float64)
            for start in starts:
                total[start : start + size] += self._axis_weights(start, size, total.size)
            sums.append(total[: self.shape[axis]])
        return sums[0], sums[1]

    def _axis_weights(self, start: int, size: int, padded: int) -> np.ndarray:
        # Edges at the image border keep full weight: there is no neighbour to blend with.
        return blend_window(
            size,
            margin=self.margin,
            ramp=self.ramp,
            taper_start=start > 0,
            taper_end=start + size < padded,
        )


def blend_window(
    size: int, *, margin: int, ramp: int, taper_start: bool, taper_end: bool
) -> np.ndarray:
    """Return a 1D blending window of `size` samples.

    Parameters
    ----------
    size : int
        Length of the window.
    margin : int
        Samples at a tapered edge with zero weight.
    ramp : int
        Samples after the margin over which the weight rises as ``sin²`` from 0 to 1.
    taper_start, taper_end : bool
        Whether the window tapers at its start and end.

    Returns
    -------
    ndarray of float64, shape (size,)
        The window; two neighbours overlapping by ``2 * margin + ramp`` sum to one.
    """
    distance = np.arange(size, dtype=np.float64)
    window = np.ones(size, dtype=np.float64)
    profile = np.clip((distance - margin + 0.5) / max(ramp, 1), 0.0, 1.0)
    profile = np.sin(0.5 * np.pi * profile) ** 2
    if taper_start:
        window *= profile
    if taper_end:
        window *= profile[::-1]
    return window


def _axis_starts(length: int, max_tile: int, overlap: int, multiple: int) -> tuple[int, int]:
    """Return (tile side, number of tiles) that cover `length` with at least `overlap`."""
    padded = -(-length // multiple) * multiple
    if padded <= max_tile:
        return padded, 1
    count = math.ceil((padded - overlap) / (max_tile - overlap))
    # Balance the tiles: the smallest side that still gives every neighbour `overlap`.
    side = -(-math.ceil((padded + (count - 1) * overlap) / count) // multiple) * multiple
    return min(side, max_tile), count


def _spread(padded: int, side: int, count: int, multiple: int) -> tuple[int, ...]:
    if count == 1:
        return (0,)
    span = padded - side
    starts = [round(index * span / (count - 1) / multiple) * multiple for index in range(count)]
    starts[-1] = span
    return tuple(starts)


def make_tile_grid(
    shape: tuple[int, int],
    *,
    tile_size: int,
    overlap: int,
    size_multiple: int,
    radius: int,
) -> TileGrid:
    """Plan the tiles that cover a plane of `shape`.

    Parameters
    ----------
    shape : tuple of int
        Height and width of the plane.
    tile_size : int
        Largest tile side, a multiple of `size_multiple`; tiles are balanced so that
        they are no larger than needed.
    overlap : int
        Smallest overlap between neighbouring tiles, a multiple of `size_multiple`.
    size_multiple : int
        Tile sides and origins are multiples of this number.
    radius : int
        Receptive radius: pixels this close to an inner tile edge get zero weight
        (capped so that a ramp of at least `size_multiple` pixels remains).

    Returns
    -------
    TileGrid
        The tiles and their blending parameters.
    """
    multiple = int(size_multiple)
    if tile_size % multiple or tile_size < multiple:
        raise SettingsError(
            f"`tile_size` must be a positive multiple of {multiple} (got {tile_size})"
        )
    if overlap % multiple or not 0 <= overlap < tile_size:
        raise SettingsError(
            f"`tile_overlap` must be a multiple of {multiple} in [0, {tile_size}) (got {overlap})"
        )
    margin = max(0, min(radius, (overlap - multiple) // 2))
    ramp = overlap - 2 * margin
    sides, all_starts = [], []
    for length in shape:
        padded = -(-length // multiple) * multiple
        side, count = _axis_starts(length, tile_size, overlap, multiple)
        starts = _spread(padded, side, count, multiple)
        # Rounding origins to the multiple can cost a few pixels of overlap: widen the tiles.
        while count > 1 and side - max(np.diff(starts)) < overlap and side < padded:
            side += multiple
            starts = _spread(padded, side, count, multiple)
        sides.append(side)
        all_starts.append(starts)
    return TileGrid(
        shape=(int(shape[0]), int(shape[1])),
        starts_y=all_starts[0],
        starts_x=all_starts[1],
        tile_shape=(sides[0], sides[1]),
        margin=margin,
        ramp=ramp,
    )


def _reflect_indices(start: int, size: int, length: int) -> np.ndarray:
    index = np.arange(start, start + size)
    if length == 1:
        return np.zeros_like(index)
    period = 2 * (length - 1)
    index = np.mod(index, period)
    return np.where(index < length, index, period - index)


def extract_tile(plane: np.ndarray, tile: Tile) -> np.ndarray:
    """Return the pixels of `tile` from a 2D `plane`, mirrored where it passes the end."""
    height, width = plane.shape
    if tile.y + tile.height <= height and tile.x + tile.width <= width:
        return plane[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width]
    rows = _reflect_indices(tile.y, tile.height, height)
    cols = _reflect_indices(tile.x, tile.width, width)
    return plane[np.ix_(rows, cols)]


class TileBlend:
    """Weighted sums of per-tile results over one plane; :meth:`finish` normalises them.

    Each of ``mean``, ``variance``, ``map`` (2D) and ``samples`` (3D) exists when asked for.
    """

    def __init__(self, grid: TileGrid, *, variance: bool, map_: bool, keep: int) -> None:
        height, width = grid.shape
        self.grid = grid
        self.mean = np.zeros((height, width), np.float32)
        self.variance = np.zeros((height, width), np.float32) if variance else None
        self.map = np.zeros((height, width), np.float32) if map_ else None
        self.samples = np.zeros((keep, height, width), np.float32) if keep else None

    def add(self, tile: Tile, result: Any) -> None:
        """Add a tile's ``mean``, ``variance``, ``map`` and ``kept`` samples, weighted."""
        weight_y, weight_x = self.grid.weights(tile)
        height = min(tile.height, self.grid.shape[0] - tile.y)
        width = min(tile.width, self.grid.shape[1] - tile.x)
        weight = np.outer(weight_y[:height], weight_x[:width]).astype(np.float32)
        window = (slice(tile.y, tile.y + height), slice(tile.x, tile.x + width))
        pairs = [(self.mean, result.mean), (self.variance, result.variance)]
        pairs += [(self.map, result.map)]
        for target, values in pairs:
            if target is not None:
                target[window] += weight * values[:height, :width]
        if self.samples is not None:
            self.samples[(slice(None), *window)] += weight * result.kept[:, :height, :width]

    def finish(self) -> None:
        """Divide the sums by the summed weights."""
        norm_y, norm_x = self.grid.normalisers()
        norm_y, norm_x = norm_y.astype(np.float32), norm_x.astype(np.float32)
        for target in (self.mean, self.variance, self.map, self.samples):
            if target is not None:
                target /= norm_y[:, None]
                target /= norm_x[None, :]
