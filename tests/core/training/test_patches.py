"""Training data: planes, split, random patches, augmentation, validation grid."""

from __future__ import annotations

import numpy as np
import pytest

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.model.config import TrainingConfig
from napari_divnoising.core.training.patches import (
    PatchSampler,
    grid_patches,
    prepare_planes,
    prepare_training_data,
    split_planes,
)


def test_planes_from_stacks_and_lists(rng):
    planes, shapes = prepare_planes(
        [rng.normal(size=(2, 3, 20, 24)), rng.integers(0, 9, (30, 20)).astype(np.uint8)],
        patch_size=16,
        size_multiple=4,
    )
    assert len(planes) == 7 and shapes == [(2, 3, 20, 24), (30, 20)]
    assert all(p.dtype == np.float32 and p.ndim == 2 for p in planes)


def test_too_small_image_names_the_minimum(rng):
    with pytest.raises(
        InputError, match=r"image 1` is 10×50 .* at least 16×16; use larger images"
    ):
        prepare_planes(
            [rng.normal(size=(20, 20)), rng.normal(size=(10, 50))], patch_size=16, size_multiple=16
        )


def test_split_by_planes_without_touching_the_input(rng):
    planes = [np.full((16, 16), i, np.float32) for i in range(10)]
    split = split_planes(planes, train_fraction=0.85, patch_size=16, rng=rng)
    train_ids = sorted(int(p[0, 0]) for p in split.train)
    val_ids = sorted(int(p[0, 0]) for p in split.validation)
    assert (len(train_ids), len(val_ids)) == (8, 2)
    assert sorted(train_ids + val_ids) == list(range(10))
    assert [int(p[0, 0]) for p in planes] == list(range(10))
    assert not split.validation_is_training


def test_single_plane_is_cut_into_strips():
    plane = np.arange(100 * 40, dtype=np.float32).reshape(100, 40)
    split = split_planes([plane], train_fraction=0.8, patch_size=16, rng=np.random.default_rng(0))
    assert split.train[0].shape == (80, 40) and split.validation[0].shape == (20, 40)
    np.testing.assert_array_equal(np.concatenate([split.train[0], split.validation[0]]), plane)


def test_no_room_to_hold_out_reuses_training():
    plane = np.zeros((20, 20), np.float32)
    split = split_planes([plane], train_fraction=0.85, patch_size=16, rng=np.random.default_rng(0))
    assert split.validation_is_training and split.train[0] is split.validation[0]
    split = split_planes(
        [plane, plane], train_fraction=1.0, patch_size=16, rng=np.random.default_rng(0)
    )
    assert split.validation_is_training and len(split.train) == 2


def test_sampler_draws_all_eight_orientations():
    patch = np.arange(16, dtype=np.float32).reshape(4, 4)
    sampler = PatchSampler([patch], patch_size=4, augment=True, rng=np.random.default_rng(1))
    batch = sampler.sample(200)
    assert batch.shape == (200, 1, 4, 4) and batch.dtype == np.float32
    seen = {b.tobytes() for b in batch[:, 0]}
    expected = {np.rot90(t, k).tobytes() for k in range(4) for t in (patch, patch[:, ::-1])}
    assert seen == expected


def test_sampler_without_augmentation_crops_the_planes(rng):
    planes = [
        rng.normal(size=(20, 30)).astype(np.float32),
        rng.normal(size=(8, 8)).astype(np.float32),
    ]
    sampler = PatchSampler(planes, patch_size=8, augment=False, rng=rng)
    batch = sampler.sample(50)[:, 0]
    windows = np.lib.stride_tricks.sliding_window_view
    crops = {w.tobytes() for p in planes for w in windows(p, (8, 8)).reshape(-1, 8, 8)}
    assert all(b.tobytes() in crops for b in batch)


def test_grid_patches_are_fixed_and_bounded(rng):
    plane = rng.normal(size=(40, 64)).astype(np.float32)
    patches = grid_patches([plane], patch_size=16, max_patches=5, rng=np.random.default_rng(0))
    assert patches.shape == (5, 1, 16, 16)
    again = grid_patches([plane], patch_size=16, max_patches=5, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(patches, again)
    assert len(grid_patches([plane], patch_size=16, max_patches=100, rng=rng)) == 8


def test_training_data_normalisation_and_epoch_length(rng):
    images = rng.normal(100, 5, size=(4, 64, 64))
    config = TrainingConfig(patch_size=16, batch_size=2, train_fraction=0.75)
    data = prepare_training_data(images, config=config, size_multiple=4, seed=0)
    assert data.data_mean == pytest.approx(images.mean()) and data.data_std == pytest.approx(
        images.std()
    )
    assert data.steps_per_epoch == 3 * 64 * 64 // (2 * 16 * 16)  # the training pixels, once
    small = TrainingConfig(patch_size=16, batch_size=64)
    assert (
        prepare_training_data(images, config=small, size_multiple=4, seed=0).steps_per_epoch == 10
    )
    kept = prepare_training_data(
        images, config=config, size_multiple=4, seed=0, normalization=(1.0, 2.0)
    )
    assert (kept.data_mean, kept.data_std) == (1.0, 2.0)
    with pytest.raises(ValueError, match="multiple of 2\\*\\*depth = 32 \\(got 16\\)"):
        prepare_training_data(images, config=config, size_multiple=32, seed=0)
