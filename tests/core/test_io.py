import numpy as np
import pytest

from napari_divnoising.core.io import atomic_path, read_image, write_tiff


def test_tiff_round_trip_keeps_values_and_dtype(tmp_path, rng):
    image = rng.integers(0, 4000, (3, 20, 30), dtype=np.uint16)
    read = read_image(write_tiff(tmp_path / "a.tif", image))
    assert read.dtype == np.uint16
    np.testing.assert_array_equal(read, image)


def test_npy_images_are_read(tmp_path, rng):
    image = rng.normal(size=(8, 8)).astype(np.float32)
    np.save(tmp_path / "a.npy", image)
    np.testing.assert_array_equal(read_image(tmp_path / "a.npy"), image)


def test_failed_write_leaves_the_existing_file_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("irreplaceable")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as temporary:
        temporary.write_text("half a fi")
        raise RuntimeError("disk full")
    assert target.read_text() == "irreplaceable"
    assert list(tmp_path.iterdir()) == [target]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_image(tmp_path / "nope.tif")


def test_unknown_format_is_refused_naming_the_formats_read(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.png files are not supported; expected one of \.tif"):
        read_image(tmp_path / "a.png")
    (tmp_path / "raw").write_bytes(b"x")
    with pytest.raises(ValueError, match="a file without a suffix is not supported"):
        read_image(tmp_path / "raw")


def test_corrupt_tiff_is_a_clear_error(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match="cannot read"):
        read_image(tmp_path / "broken.tif")


def test_three_plane_stacks_stay_grayscale(tmp_path, rng):
    import tifffile

    stack = rng.normal(size=(3, 16, 16)).astype(np.float32)
    path = write_tiff(tmp_path / "three.tif", stack)
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.MINISBLACK
    np.testing.assert_array_equal(read_image(path), stack)


def test_higher_dimensional_stacks_keep_their_shape(tmp_path, rng):
    stack = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(read_image(write_tiff(tmp_path / "4d.tif", stack)), stack)
