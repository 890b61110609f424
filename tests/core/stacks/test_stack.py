"""Lazy stacks: TIFF, zarr, OME-Zarr and folders open without reading their pixels."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.io import read_planes, write_tiff
from napari_divnoising.core.stacks import open_stack, stack_from_array
from napari_divnoising.core.stacks.zarr_store import create_result_image, ome_axes


def _zarr(path, data, **options):
    array = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, **options)
    array[:] = data
    return path


def test_tiff_stack_planes_equal_the_eager_reader(tmp_path, rng):
    data = rng.integers(0, 4000, (2, 3, 24, 32), dtype=np.uint16)
    path = tmp_path / "tzyx.tif"
    tifffile.imwrite(path, data, photometric="minisblack", metadata={"axes": "TZYX"})
    stack = open_stack(path)
    assert stack.layout == (2, 3, 24, 32) and stack.axes == "TZYX" and stack.n_planes == 6
    eager = read_planes(path).reshape(6, 24, 32)
    for index in range(6):
        plane = stack.read_plane(index)
        assert plane.dtype == np.float32
        np.testing.assert_array_equal(plane, eager[index])


def test_a_plane_read_reads_only_its_chunk(tmp_path, rng):
    data = rng.normal(100, 5, (5, 16, 16)).astype(np.float32)
    path = _zarr(tmp_path / "s.zarr", data, chunks=(1, 16, 16))
    stack = open_stack(path)
    (path / "c" / "3" / "0" / "0").unlink()  # zarr v3 chunk of plane 3: now missing
    np.testing.assert_array_equal(stack.read_plane(1), data[1])


def test_ome_zarr_axes_and_pixel_sizes_are_read(tmp_path):
    path = tmp_path / "img.ome.zarr"
    axes = ome_axes("ZYX", 3)
    create_result_image(
        path, shape=(4, 16, 16), axes=axes, scale={"z": 2.0, "x": 0.1}, name="x", record={}
    )
    stack = open_stack(path)
    assert stack.axes == "ZYX" and stack.layout == (4, 16, 16)
    assert stack.scale == {"Z": 2.0, "Y": 1.0, "X": 0.1}


def test_plain_zarr_without_axes_is_a_stack_of_planes(tmp_path, rng):
    data = rng.integers(0, 255, (3, 8, 8), dtype=np.uint8)
    stack = open_stack(_zarr(tmp_path / "p.zarr", data, chunks=(3, 8, 8)))
    assert stack.axes is None and stack.n_planes == 3
    np.testing.assert_array_equal(stack.read_plane(2), data[2])


@pytest.mark.parametrize(
    ("shape", "axes", "match"),
    [
        ((16,), None, r"must be 2-D \(Y, X\) or a stack"),
        ((2, 2, 8, 8), None, "4-D image .* without axes metadata"),
        ((2, 8, 8), "CYX", "has 2 channels"),
        ((8, 8), "TYX", "has 3 letters but"),
    ],
)
def test_zarr_with_wrong_dimensions_or_axes_is_one_clear_error(tmp_path, shape, axes, match):
    path = _zarr(tmp_path / "bad.zarr", np.zeros(shape, np.uint16), chunks=shape)
    with pytest.raises((InputError, ValueError), match=match):
        open_stack(path, axes=axes)


def test_unknown_ome_axes_are_named(tmp_path):
    path = tmp_path / "a.ome.zarr"
    create_result_image(
        path, shape=(2, 8, 8), axes=ome_axes("QYX", 3), scale={}, name="x", record={}
    )
    with pytest.raises(InputError, match=r"OME axes q, y, x.*pass --axes"):
        open_stack(path)
    assert open_stack(path, axes="TYX").axes == "TYX"


def test_zarr_group_without_image_metadata_is_refused(tmp_path):
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(InputError, match="zarr group without OME-Zarr image metadata"):
        open_stack(tmp_path / "g.zarr")


def test_folder_of_images_is_one_stack_and_needs_one_plane_size(tmp_path, rng):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = rng.normal(100, 5, (3, 12, 10)).astype(np.float32)
    for index, frame in enumerate(frames):
        write_tiff(folder / f"f{index}.tif", frame)
    stack = open_stack(folder)
    assert stack.n_planes == 3
    np.testing.assert_array_equal(stack.read_plane(2), frames[2])
    write_tiff(folder / "f9.tif", frames[0][:8])
    with pytest.raises(InputError, match="different plane sizes"):
        open_stack(folder)


def test_non_finite_plane_is_named_when_read(rng):
    data = rng.normal(100, 5, (3, 8, 8)).astype(np.float32)
    data[1, 2, 2] = np.nan
    stack = stack_from_array(data)
    stack.read_plane(0)
    with pytest.raises(InputError, match="plane 1 of image holds 1 NaN"):
        stack.read_plane(1)


def test_rgb_and_labels_are_refused_from_the_header(tmp_path):
    with pytest.raises(InputError, match="RGB"):
        stack_from_array(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="dtype bool"):
        stack_from_array(np.zeros((8, 8), bool))
