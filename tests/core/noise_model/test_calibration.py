import numpy as np
import pytest
import tifffile

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.noise_model.calibration import (
    MIN_CALIBRATION_FRAMES,
    calibration_pairs,
)
from napari_divnoising.core.noise_model.pairs import NoisePairs
from napari_divnoising.core.sample_data import make_sample_data


@pytest.fixture
def frames(rng):
    """A static scene (ramp) seen 12 times with Poisson noise: (T, Y, X) uint16."""
    scene = np.linspace(5, 80, 24)[None, :] * np.ones((20, 1))
    return rng.poisson(scene, size=(12, 20, 24)).astype(np.uint16)


def test_pairs_of_one_stack_have_matching_4d_shapes(frames):
    pairs = calibration_pairs(frames)
    assert pairs.signal.shape == pairs.observation.shape == (1, *frames.shape)
    assert pairs.method == "calibration"
    assert pairs.n_pixels == frames.size
    np.testing.assert_array_equal(pairs.observation[0], frames)
    assert pairs.observation.dtype == np.uint16  # counts stay counts
    assert not pairs.observation.flags.writeable


def test_signal_is_a_read_only_view_of_the_stack_mean(frames):
    pairs = calibration_pairs(frames)
    np.testing.assert_allclose(pairs.signal[0, 3], frames.mean(axis=0), rtol=1e-6)
    # A broadcast view: no copy per frame, and it cannot be written to by accident.
    assert pairs.signal.strides[1] == 0
    assert not pairs.signal.flags.writeable


def test_input_is_not_modified(frames):
    before = frames.copy()
    calibration_pairs(frames)
    np.testing.assert_array_equal(frames, before)


def test_sequence_of_stacks_and_4d_array_agree(frames):
    other = frames[::-1].copy()
    from_list = calibration_pairs([frames, other])
    from_array = calibration_pairs(np.stack([frames, other]))
    assert from_list.observation.shape == (2, *frames.shape)
    np.testing.assert_array_equal(from_list.observation, from_array.observation)
    np.testing.assert_array_equal(from_list.signal, from_array.signal)


def test_stacks_are_read_from_tiff_paths(frames, tmp_path):
    paths = [tmp_path / "a.tif", tmp_path / "b.tif"]
    for path in paths:
        tifffile.imwrite(path, frames)
    pairs = calibration_pairs([str(paths[0]), paths[1]])
    assert pairs.observation.shape == (2, *frames.shape)
    np.testing.assert_array_equal(pairs.observation[1], frames)
    assert calibration_pairs(paths[0]).observation.shape == (1, *frames.shape)


def test_too_short_stack_says_how_many_frames_are_needed(frames):
    assert MIN_CALIBRATION_FRAMES == 10
    with pytest.raises(InputError, match=r"has 5 frame\(s\); at least 10 frames"):
        calibration_pairs(frames[:5])
    assert calibration_pairs(frames[:5], min_frames=5).observation.shape[1] == 5


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones((20, 24)), "single 2D image"),
        (np.ones((12, 5, 20, 24)), "must be a stack of frames"),
        (np.zeros((12, 20, 24, 3), dtype=np.uint8) + np.arange(3), "RGB"),
        (np.full((12, 20, 24), 7.0), "constant"),
    ],
)
def test_bad_stacks_are_refused(bad, match):
    with pytest.raises(InputError, match=match):
        calibration_pairs([bad])


def test_nan_is_refused(frames):
    bad = frames.astype(np.float32)
    bad[3, 4, 5] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        calibration_pairs(bad)


def test_stacks_of_different_shape_are_refused(frames):
    with pytest.raises(InputError, match=r"same shape.*\(12, 20, 20\)"):
        calibration_pairs([frames, frames[:, :, :20]])


def test_frames_of_different_shape_are_refused(frames):
    ragged = [*frames[:11], frames[11, :, :20]]
    with pytest.raises(InputError, match=r"frames of calibration stack 0 differ in shape"):
        calibration_pairs([ragged])


def test_missing_or_unreadable_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="not found"):
        calibration_pairs(tmp_path / "nothing.tif")
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    with pytest.raises(InputError, match="cannot read calibration file"):
        calibration_pairs(text)


def test_bad_arguments_are_refused(frames):
    with pytest.raises(ValueError, match=r"`min_frames` must be ≥ 2 \(got 1\)"):
        calibration_pairs(frames, min_frames=1)
    with pytest.raises(ValueError, match="`stacks` is empty"):
        calibration_pairs([])


def test_bleaching_stack_warns(frames):
    decay = np.linspace(1.0, 0.4, len(frames))[:, None, None]
    with pytest.warns(UserWarning, match="does not look static"):
        calibration_pairs((frames * decay).astype(np.float32))


def test_noise_around_the_signal_matches_the_camera():
    data = make_sample_data(shape=(64, 64), n_calibration_frames=40)
    pairs = calibration_pairs(data.calibration)
    residual = pairs.observation - pairs.signal
    bright = pairs.signal > np.median(pairs.signal)
    # The mean includes each observation, which takes 1/T off the variance.
    expected = data.camera.variance(pairs.signal[bright]).mean() * (1 - 1 / 40)
    assert residual[bright].var() == pytest.approx(expected, rel=0.05)


def test_noise_pairs_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="same 4D shape"):
        NoisePairs(signal=np.zeros((1, 2, 3, 4)), observation=np.zeros((1, 2, 3, 5)))


def test_pixels_saturated_in_any_frame_are_marked_and_reported(frames):
    level = int(frames.max()) + 1
    clipped = frames.copy()
    clipped[3, :2, :5] = level  # ten pixels reach the level in one frame only
    with pytest.warns(UserWarning, match=r"^10 of 480 pixels \(2\.1%\) are saturated \(≥ "):
        pairs = calibration_pairs(clipped, saturation=level)
    assert pairs.saturated.shape == (1, 1, 20, 24) and pairs.n_saturated == 10
    assert pairs.saturated[0, 0, :2, :5].all() and pairs.saturation == level
    assert pairs.signal.strides[1] == 0  # still a broadcast view of the mean
    unsaturated = calibration_pairs(frames)  # uint16, far below 65535: no warning
    assert unsaturated.n_saturated == 0 and unsaturated.saturation == 65535
    assert calibration_pairs(frames.astype(np.float32)).saturated is None  # floats: unchecked


def test_an_all_saturated_stack_is_refused(frames):
    with pytest.raises(InputError, match=r"all 480 pixels are saturated \(≥ 5\)"):
        calibration_pairs(frames, saturation=5)


def test_noise_pairs_refuse_a_mask_of_another_shape():
    with pytest.raises(ValueError, match="does not broadcast"):
        NoisePairs(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 3, 4)), saturated=np.zeros((2, 3)))
