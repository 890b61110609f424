"""Training from stacks on disk: read plane by plane, the same model as from memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr

from napari_divnoising.core.stacks import open_stack
from napari_divnoising.core.training.lazy_planes import PlaneCache, lazy_planes
from napari_divnoising.core.training.patches import grid_patches
from napari_divnoising.core.training.trainer import train

from .test_trainer import TINY_NET, tiny_config


@pytest.fixture
def stack_on_disk(tmp_path, rng):
    signal = np.full((6, 32, 32), 20.0)
    signal[:, 8:24, 8:24] = 80.0
    data = (signal + rng.normal(0, 10, signal.shape)).astype(np.float32)
    array = zarr.create_array(
        str(tmp_path / "s.zarr"), shape=data.shape, chunks=(1, 32, 32), dtype="float32"
    )
    array[:] = data
    return data, open_stack(tmp_path / "s.zarr")


def test_a_stack_on_disk_trains_the_same_model_as_in_memory(stack_on_disk):
    data, stack = stack_on_disk
    options = {"gaussian_sigma": 10.0, "network_config": TINY_NET, "device": "cpu"}
    in_memory = train(data, config=tiny_config(), **options)
    from_disk = train(stack, config=tiny_config(), **options)
    assert from_disk.data_mean == in_memory.data_mean
    assert from_disk.data_std == in_memory.data_std
    assert [h["val_loss"] for h in from_disk.history] == [h["val_loss"] for h in in_memory.history]
    for key, weights in in_memory.network.state_dict().items():
        torch.testing.assert_close(from_disk.network.state_dict()[key], weights, rtol=0, atol=0)
    assert from_disk.provenance["training_data_shapes"] == [[6, 32, 32]]


def test_the_plane_cache_holds_at_most_its_budget(stack_on_disk):
    _, stack = stack_on_disk
    cache = PlaneCache(stack, max_bytes=2 * 32 * 32 * 4)  # two planes
    for index in [0, 1, 2, 0, 1, 2]:
        cache.plane(index)
    assert cache.nbytes <= cache.max_bytes and cache.reads == 6  # LRU over three planes
    cache.plane(2)
    assert cache.reads == 6  # the most recent plane is still there


def test_validation_patches_read_only_the_planes_they_come_from(stack_on_disk):
    data, stack = stack_on_disk
    planes = lazy_planes(stack)
    patches = grid_patches(planes, patch_size=16, max_patches=2, rng=np.random.default_rng(1))
    expected = grid_patches(list(data), patch_size=16, max_patches=2, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(patches, expected)
    assert planes[0].cache.reads <= 2
