import time

import numpy as np
import pytest

from napari_divnoising.core.sample_data import CameraModel, SampleData, make_sample_data


@pytest.fixture(scope="module")
def data() -> SampleData:
    return make_sample_data(shape=(96, 80), n_frames=2, n_calibration_frames=30, seed=5)


def test_shapes_and_dtypes(data):
    assert data.clean.shape == data.calibration_clean.shape == (96, 80)
    assert data.clean.dtype == data.calibration_clean.dtype == np.float32
    assert data.noisy.shape == (2, 96, 80)
    assert data.calibration.shape == (30, 96, 80)
    assert data.noisy.dtype == data.calibration.dtype == np.uint16
    assert data.seed == 5


def test_same_seed_same_data_other_seed_other_data(data):
    again = make_sample_data(shape=(96, 80), n_frames=2, n_calibration_frames=30, seed=5)
    np.testing.assert_array_equal(again.noisy, data.noisy)
    np.testing.assert_array_equal(again.calibration, data.calibration)
    other = make_sample_data(shape=(96, 80), n_frames=2, n_calibration_frames=30, seed=6)
    assert not np.array_equal(other.clean, data.clean)


def test_frame_counts_do_not_change_the_scene(data):
    fewer = make_sample_data(shape=(96, 80), n_frames=1, n_calibration_frames=10, seed=5)
    np.testing.assert_array_equal(fewer.clean, data.clean)
    np.testing.assert_array_equal(fewer.noisy[0], data.noisy[0])
    np.testing.assert_array_equal(fewer.calibration_clean, data.calibration_clean)


def test_noisy_frames_scatter_around_the_clean_image_as_the_camera_says(data):
    residual = data.noisy.astype(np.float64) - data.clean
    assert abs(residual.mean()) < 0.5  # unbiased (no saturation at these levels)
    expected = data.camera.variance(data.clean).mean()
    assert residual.var() == pytest.approx(expected, rel=0.05)
    assert data.clean.min() >= data.camera.offset


def test_calibration_covers_the_noisy_range_with_the_same_camera(data):
    assert data.calibration_clean.min() <= data.clean.min()
    assert data.calibration_clean.max() >= data.clean.max()
    frames = data.calibration.astype(np.float64)
    bright = data.calibration_clean > np.median(data.calibration_clean)
    measured = frames.var(axis=0, ddof=1)[bright].mean()
    assert measured == pytest.approx(
        data.camera.variance(data.calibration_clean[bright]).mean(), rel=0.05
    )


def test_image_is_structured_not_flat(data):
    # Dim background and bright structures: a dynamic range worth denoising.
    low, high = np.percentile(data.clean - data.camera.offset, [5, 99.9])
    assert high > 10 * low


def test_default_is_fast():
    # CPU time, not wall clock: other jobs on a shared machine do not count against it.
    start = time.process_time()
    default = make_sample_data()
    assert time.process_time() - start < 5.0  # ~0.4 s of CPU
    assert default.noisy.shape == (3, 256, 256)
    assert default.calibration.shape == (50, 256, 256)


def test_camera_saturates_and_rounds():
    camera = CameraModel(gain=4.0, offset=10.0, read_noise=1.0, bit_depth=8)
    raw = camera.record(np.full((4, 4), 1000.0), np.random.default_rng(0), n_frames=2)
    assert raw.shape == (2, 4, 4)
    assert raw.dtype == np.uint16
    assert (raw == 255).all()
    assert camera.saturation == 255
    assert camera.variance(10.0) == pytest.approx(1.0 + 1 / 12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (16, 64)}, r"each ≥ 32 \(got \(16, 64\)\)"),
        ({"shape": (64,)}, "must be"),
        ({"n_frames": 0}, r"must be ≥ 1 \(got 0 and 50\)"),
        ({"peak_photons": 0.0}, "`peak_photons` must be > 0"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sample_data(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gain": 0.0}, r"`gain` must be > 0 ADU per photon \(got 0.0\)"),
        ({"read_noise": -1.0}, "`read_noise` must be ≥ 0"),
        ({"bit_depth": 20}, r"between 8 and 16 \(got 20\)"),
    ],
)
def test_bad_cameras_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CameraModel(**kwargs)
