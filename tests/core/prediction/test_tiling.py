"""Tile planning, blending windows and reflect-padded tile extraction."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_divnoising.core.prediction.tiling import (
    Tile,
    TileBlend,
    blend_window,
    extract_tile,
    make_tile_grid,
)


def test_neighbouring_windows_sum_to_one_across_the_overlap():
    margin, ramp = 6, 12
    overlap = 2 * margin + ramp
    left = blend_window(64, margin=margin, ramp=ramp, taper_start=False, taper_end=True)
    right = blend_window(64, margin=margin, ramp=ramp, taper_start=True, taper_end=False)
    np.testing.assert_allclose(left[-overlap:] + right[:overlap], 1.0, atol=1e-12)
    assert (right[:margin] == 0).all() and (left[-margin:] == 0).all()
    assert (left[: 64 - overlap] == 1).all()


@pytest.mark.parametrize("shape", [(100, 37), (300, 260), (64, 64), (5, 9)])
def test_grid_covers_the_plane_with_aligned_overlapping_tiles(shape):
    grid = make_tile_grid(shape, tile_size=64, overlap=24, size_multiple=4, radius=8)
    padded = [-(-side // 4) * 4 for side in shape]
    for starts, side, length in zip(
        (grid.starts_y, grid.starts_x), grid.tile_shape, padded, strict=True
    ):
        assert side <= 64 and side % 4 == 0
        assert all(start % 4 == 0 for start in starts)
        assert starts[0] == 0 and starts[-1] + side == length
        if len(starts) > 1:
            assert side - max(np.diff(starts)) >= 24
    norm_y, norm_x = grid.normalisers()
    assert norm_y.shape == (shape[0],) and norm_x.shape == (shape[1],)
    assert norm_y.min() > 0.5 and norm_x.min() > 0.5


def test_tiles_are_balanced_rather_than_a_small_last_tile():
    grid = make_tile_grid((4096, 4096), tile_size=1024, overlap=68, size_multiple=4, radius=26)
    assert len(grid.starts_y) == 5
    assert grid.tile_shape[0] < 1024  # 5 tiles of about 880 px, not 4 of 1024 and a sliver


def test_blend_reproduces_an_image_exactly():
    # Every tile reports its own pixels: blending must return the image unchanged.
    image = np.random.default_rng(3).normal(size=(90, 70)).astype(np.float32)
    grid = make_tile_grid(image.shape, tile_size=40, overlap=16, size_multiple=4, radius=4)
    assert len(grid) > 4
    blend = TileBlend(grid, variance=True, map_=False, keep=2)
    for tile in grid:
        pixels = extract_tile(image, tile)
        result = SimpleNamespace(
            mean=pixels, variance=2 * pixels, map=None, kept=np.stack([pixels, -pixels])
        )
        blend.add(tile, result)
    blend.finish()
    np.testing.assert_allclose(blend.mean, image, atol=1e-5)
    np.testing.assert_allclose(blend.variance, 2 * image, atol=1e-5)
    np.testing.assert_allclose(blend.samples[1], -image, atol=1e-5)
    assert blend.map is None


def test_extract_tile_mirrors_past_the_end_like_reflect_padding():
    plane = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    tile = extract_tile(plane, Tile(y=0, x=4, height=8, width=8))
    padded = np.pad(plane, ((0, 3), (0, 5)), mode="reflect")
    np.testing.assert_array_equal(tile, padded[:8, 4:12])
    inside = extract_tile(plane, Tile(y=1, x=1, height=4, width=4))
    assert np.shares_memory(inside, plane)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"tile_size": 30, "overlap": 8}, "multiple of 4"),
        ({"tile_size": 32, "overlap": 32}, "tile_overlap"),
        ({"tile_size": 32, "overlap": 6}, "tile_overlap"),
    ],
)
def test_bad_grid_settings_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        make_tile_grid((100, 100), size_multiple=4, radius=8, **options)
