"""Axes of an image: read from the file or given by the user, checked, turned into planes."""

import numpy as np
import pytest
import tifffile

from napari_divnoising.core.axes import parse_axes, planes_of, read_axes
from napari_divnoising.core.errors import InputError, SettingsError
from napari_divnoising.core.io import check_planes, read_planes, write_tiff

SPLIT = "split the channels (e.g. in Fiji: Image ▸ Color ▸ Split Channels) and denoise each"


@pytest.fixture
def stack(rng):
    return rng.integers(0, 4000, (2, 3, 16, 20), dtype=np.uint16)


@pytest.mark.parametrize(
    "options",
    [{"metadata": {"axes": "TZYX"}, "photometric": "minisblack"},
     {"ome": True, "metadata": {"axes": "TZYX"}},
     {"imagej": True, "metadata": {"axes": "TZYX"}}],
    ids=["shaped", "ome", "imagej"],
)  # fmt: skip
def test_files_that_name_their_axes_are_read_with_them(tmp_path, stack, options):
    path = tmp_path / "tzyx.tif"
    tifffile.imwrite(path, stack, **options)
    assert read_axes(path) == "TZYX"
    np.testing.assert_array_equal(read_planes(path), stack)


def test_guessed_axes_count_as_unknown(tmp_path, stack):
    assert read_axes(write_tiff(tmp_path / "shaped.tif", stack)) is None  # tifffile: QQYX
    tifffile.imwrite(tmp_path / "pages.tif", stack[0], photometric="minisblack", metadata=None)
    assert read_axes(tmp_path / "pages.tif") is None
    np.save(tmp_path / "a.npy", stack)
    assert read_axes(tmp_path / "a.npy") is None


def test_rgb_samples_are_read_as_such(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    assert read_axes(tmp_path / "rgb.tif") == "YXS"


def test_colour_planes_stored_one_by_one_may_be_declared_grayscale(tmp_path, stack):
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, stack[0], photometric="rgb", planarconfig="separate")
    with pytest.raises(InputError, match=r"axes SYX\).*grayscale planes: --axes QYX"):
        read_planes(path)
    np.testing.assert_array_equal(read_planes(path, axes="QYX"), stack[0])


def test_an_unreadable_tiff_is_an_input_error(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(InputError, match="cannot read"):
        read_axes(tmp_path / "broken.tif")


@pytest.mark.parametrize("shape", [(8, 9), (3, 8, 9)])
def test_without_axes_2d_and_3d_images_stay_as_they_are(shape):
    image = np.zeros(shape)
    assert planes_of(image, None) is image


def test_without_axes_a_5d_image_is_refused_and_names_the_option():
    with pytest.raises(InputError, match=r"x\.npy is a 5-D image .* --axes TZCYX"):
        planes_of(np.zeros((2, 2, 2, 8, 8)), None, name="x.npy")


def test_two_channels_are_refused_with_the_advice_to_split_them():
    with pytest.raises(InputError) as error:
        planes_of(np.zeros((2, 8, 8)), "CYX", name="cells.tif")
    assert str(error.value) == (
        "cells.tif has 2 channels (axes CYX): DivNoising denoises one channel at a time; " + SPLIT
    )


def test_a_single_channel_is_dropped(rng):
    image = rng.normal(size=(5, 1, 8, 9))
    np.testing.assert_array_equal(planes_of(image, "ZCYX"), image[:, 0])


def test_rgb_samples_are_refused():
    with pytest.raises(InputError, match=r"RGB colour image \(3 samples per pixel, axes YXS\)"):
        planes_of(np.zeros((8, 8, 3)), "YXS")


def test_planes_not_last_are_moved_first(rng):
    image = rng.normal(size=(8, 9, 3))
    planes = planes_of(image, "YXT")
    assert planes.shape == (3, 8, 9)
    np.testing.assert_array_equal(planes[2], image[:, :, 2])
    np.testing.assert_array_equal(planes_of(image[..., 0], "XY"), image[..., 0].T)


def test_an_axis_that_is_not_one_of_planes_is_refused_with_a_way_out():
    with pytest.raises(InputError, match=r"lambda axis \(E, axes EYX\).*--axes QYX"):
        planes_of(np.zeros((2, 8, 8)), "EYX")


def test_axes_that_do_not_fit_the_shape_are_refused():
    with pytest.raises(InputError, match=r"has 3 axes \(shape \(2, 8, 8\)\) but its axes"):
        planes_of(np.zeros((2, 8, 8)), "TZYX")
    with pytest.raises(InputError, match="one Y and one X"):
        planes_of(np.zeros((2, 8, 8)), "TZY")


def test_user_axes_are_accepted_in_any_case():
    assert parse_axes("tzyx", 4) == "TZYX"
    assert parse_axes(" YXT ") == "YXT"


@pytest.mark.parametrize(
    ("text", "ndim", "message"),
    [
        ("", None, "--axes is empty"),
        ("TWYX", None, "--axes TWYX: unknown letter(s) W"),
        ("TTYX", None, "--axes TTYX names T more than once"),
        ("TZY", None, "--axes TZY lacks Y or X"),
        ("TZYX", 3, "--axes TZYX has 4 letters but the image has 3 axes"),
    ],
)
def test_bad_user_axes_are_a_settings_error_naming_the_option(text, ndim, message):
    with pytest.raises(SettingsError) as error:
        parse_axes(text, ndim)
    assert str(error.value).startswith(message)
    assert "e.g. --axes" in str(error.value)


def test_user_axes_override_the_file(tmp_path, rng):
    image = rng.normal(size=(2, 8, 9)).astype(np.float32)
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, image, metadata={"axes": "CYX"})
    with pytest.raises(InputError, match="2 channels"):
        read_planes(path)
    np.testing.assert_array_equal(read_planes(path, axes="ZYX"), image)


def test_a_5d_array_is_read_with_its_axes(tmp_path, rng):
    image = rng.normal(size=(2, 1, 3, 8, 9)).astype(np.float32)
    np.save(tmp_path / "a.npy", image)
    with pytest.raises(InputError, match="--axes"):
        read_planes(tmp_path / "a.npy")
    np.testing.assert_array_equal(read_planes(tmp_path / "a.npy", axes="TCZYX"), image[:, 0])
    with pytest.raises(SettingsError, match=r"--axes TZYX has 4 letters but a\.npy"):
        read_planes(tmp_path / "a.npy", axes="TZYX")


def test_the_header_check_agrees_with_reading(tmp_path, stack):
    tifffile.imwrite(tmp_path / "tzyx.tif", stack, ome=True, metadata={"axes": "TZYX"})
    np.save(tmp_path / "yxt.npy", stack[0, 0][..., None].repeat(3, axis=-1))
    assert check_planes(tmp_path / "tzyx.tif") == read_planes(tmp_path / "tzyx.tif").shape
    assert check_planes(tmp_path / "yxt.npy", axes="YXT") == (3, 16, 20)
    with pytest.raises(InputError, match="without axes metadata"):
        check_planes(write_tiff(tmp_path / "q.tif", stack))
