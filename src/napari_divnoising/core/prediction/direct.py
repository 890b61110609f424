"""The direct MMSE: one pass of the direct network per tile, no posterior sampling.

Tiles and their blending are those of the sampler (:mod:`.tiling`), so a plane of any size
runs in bounded memory and the result has no seams. With test-time augmentation the eight
rotations and flips are averaged, at eight passes' cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model.direct import DirectNetwork
from .dihedral import augment, augmentations, unaugment
from .tiling import TileBlend, extract_tile, make_tile_grid

__all__ = ["direct_mmse", "receptive_radius"]

#: Tile side of the direct network: 3 levels of 32 filters hold ~100 MiB of activations.
DIRECT_TILE_SIZE = 512


@dataclass(frozen=True)
class _TileMean:
    """A tile's result as :class:`.tiling.TileBlend` takes it: the mean alone."""

    mean: np.ndarray
    variance: None = None
    map: None = None
    kept: None = None


def receptive_radius(network: DirectNetwork) -> int:
    """Return how far (pixels) a pixel of the output sees: two 3×3 convolutions per level."""
    return sum(2 * 2 * 2**level for level in range(network.depth)) + 2 * 2**network.depth


def direct_mmse(
    plane: np.ndarray,
    network: DirectNetwork,
    *,
    data_mean: float,
    data_std: float,
    tta: bool = False,
    tile_size: int = DIRECT_TILE_SIZE,
) -> np.ndarray:
    """Return the direct network's MMSE of a 2D `plane` (raw units, float32).

    Parameters
    ----------
    plane : ndarray, shape (H, W)
        A noisy plane in raw units.
    network : DirectNetwork
        The trained direct network (on the device it computes on).
    data_mean, data_std : float
        The normalisation of the DivNoising model it was trained from.
    tta : bool
        Average the eight rotations and flips.
    tile_size : int
        Largest tile side (rounded up to the network's size multiple).

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    multiple = network.size_multiple
    tile_size = -(-tile_size // multiple) * multiple
    radius = receptive_radius(network)
    overlap = min(-(-2 * radius // multiple) * multiple, tile_size - multiple)
    device = next(network.parameters()).device
    total = np.zeros(plane.shape, np.float32)
    views = augmentations(tta)
    for turns, flip in views:
        view = augment(np.asarray(plane, np.float32), turns, flip)
        grid = make_tile_grid(
            view.shape, tile_size=tile_size, overlap=overlap, size_multiple=multiple, radius=radius
        )
        blend = TileBlend(grid, variance=False, map_=False, keep=0)
        for tile in grid:
            pixels = torch.from_numpy(np.ascontiguousarray(extract_tile(view, tile))).to(device)
            with torch.no_grad():
                output = network(((pixels - data_mean) / data_std)[None, None])
            mean = (output[0, 0] * data_std + data_mean).float().cpu().numpy()
            blend.add(tile, _TileMean(mean))
        blend.finish()
        total += unaugment(blend.mean, turns, flip)
    return total / len(views)
