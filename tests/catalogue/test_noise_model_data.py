"""Catalogue rows: data a noise model cannot describe as they are (offsets, saturation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_divnoising import make_noise_model
from napari_divnoising.cli import main
from napari_divnoising.core.errors import InputError
from napari_divnoising.core.io import write_tiff
from napari_divnoising.core.model_files import load_noise_model
from napari_divnoising.core.noise_model import NoiseModelRangeWarning
from napari_divnoising.core.noise_model.recipe import iter_make_noise_model
from napari_divnoising.core.noise_model.settings import NoiseModelSettings
from napari_divnoising.core.sample_data import CameraModel, make_sample_data

from .conftest import refused

QUICK = NoiseModelSettings(n_iterations=20, batch_size=2000)
OFFSET_FIX = "add back the subtracted offset/background, or fit from calibration frames"
SATURATED = r"of 4,096 pixels \(\d+\.\d%\) are saturated \(≥ {}\){} and are left out of the fit"


@pytest.fixture(scope="module")
def scene():
    """One 64×64 frame of the sample scene (camera offset 100 ADU) and its ground truth."""
    return make_sample_data(seed=2, shape=(64, 64), n_frames=1, n_calibration_frames=10)


def _background_subtracted(scene) -> tuple[np.ndarray, np.ndarray]:
    """The frame and its truth with 150 ADU taken off: the offset and some background."""
    return scene.noisy[0].astype(np.float32) - 150, scene.clean - 150


def _zero_offset_camera(scene) -> np.ndarray:
    """Raw float data of a camera without offset: read noise makes dark pixels negative."""
    rng = np.random.default_rng(0)
    photons = (scene.clean - scene.camera.offset) / scene.camera.gain - 3  # no background
    raw = 2.0 * rng.poisson(np.maximum(photons, 0)) + rng.normal(0.0, 3.0, photons.shape)
    return raw.astype(np.float32)


def _saturating_stack(peak_photons: float = 36000.0) -> tuple[np.ndarray, CameraModel]:
    """Ten uint16 frames of a calibration object whose brightest part saturates at 65535."""
    camera = CameraModel(gain=2.0, offset=100.0, read_noise=2.0, bit_depth=16)
    data = make_sample_data(
        seed=1, shape=(64, 64), n_frames=1, n_calibration_frames=10,
        peak_photons=peak_photons, camera=camera,
    )  # fmt: skip
    return data.calibration, camera


# -- offset-subtracted data -------------------------------------------------------------------


def test_background_subtracted_images_are_refused_for_bootstrap_with_the_fix(
    workspace, capsys, scene
):
    image = write_tiff(workspace.path("subtracted.tif"), _background_subtracted(scene)[0])
    out = workspace.path("fresh.npz")
    argv = ["fit-noise-model", "--bootstrap", image, "--out", out, "--iterations", "20"]
    reason = refused(capsys, [*argv, "--quiet"])
    assert "% of the pixels of the noisy images are negative (min -" in reason
    assert "the noise model needs raw camera intensities" in reason and OFFSET_FIX in reason
    assert not out.exists()


def test_background_subtracted_images_are_refused_by_the_api_before_any_bm3d(scene):
    noisy, _ = _background_subtracted(scene)
    job = iter_make_noise_model(noisy, source="bootstrap", settings=QUICK)
    with pytest.raises(InputError, match=r"^\d+% of the pixels .* are negative .*" + OFFSET_FIX):
        next(job)  # the first step, before BM3D has run


def test_background_subtracted_images_are_refused_with_their_own_denoised_version(
    workspace, capsys, scene
):
    noisy, clean = _background_subtracted(scene)
    with pytest.raises(InputError, match="raw camera intensities; " + OFFSET_FIX):
        make_noise_model(noisy, source="denoised", denoised=clean, settings=QUICK)
    image = write_tiff(workspace.path("subtracted.tif"), noisy)
    denoised = write_tiff(workspace.path("denoised.tif"), clean)
    argv = ["fit-noise-model", "--bootstrap", image, "--denoised", denoised, "--quiet"]
    assert OFFSET_FIX in refused(capsys, [*argv, "--out", workspace.path("fresh.npz")])


def test_raw_float_data_of_a_camera_without_offset_are_accepted(scene):
    raw = _zero_offset_camera(scene)
    assert 0.02 < np.mean(raw < 0) < 0.5  # read noise: many dark pixels are slightly negative
    job = iter_make_noise_model(raw, source="bootstrap", settings=QUICK)
    assert next(job).step == 0  # past the checks, BM3D about to start
    job.close()
    result = make_noise_model(raw, source="denoised", denoised=scene.clean - 106, settings=QUICK)
    assert result.noise_model.min_signal < 5


def test_a_model_used_on_shifted_data_warns_about_the_offset(workspace, scene):
    model = load_noise_model(workspace.noise_model)
    noisy, _ = _background_subtracted(scene)
    with pytest.warns(NoiseModelRangeWarning) as caught:
        model.check_signal_range(noisy, name="image")
    message = str(caught[0].message)
    assert "% of it lies below that range" in message
    assert "as if shifted: its offset (dark level) differs from that of the data" in message
    assert "add back a subtracted offset or background" in message


def test_predicting_shifted_data_warns_about_the_offset_on_one_line(workspace, capsys, scene):
    image = write_tiff(workspace.path("subtracted.tif"), _background_subtracted(scene)[0])
    argv = ["predict", workspace.model, image, "--out", workspace.path("o"), "--samples", "2"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite's settings turn our warnings into errors
        assert main([str(part) for part in [*argv, "--quiet"]]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning: " in line]
    assert any("lies below that range" in line and "its offset" in line for line in lines)


def test_a_model_used_on_brighter_data_warns_without_blaming_the_offset(workspace, scene):
    model = load_noise_model(workspace.noise_model)
    brighter = scene.noisy[0].astype(np.float32) * 4  # more light: a range not covered
    with pytest.warns(NoiseModelRangeWarning, match=r"above\); its likelihood") as caught:
        model.check_signal_range(brighter, name="image")
    message = str(caught[0].message)
    assert "offset" not in message and "cover these intensities" in message


# -- saturation --------------------------------------------------------------------------------


def test_a_saturated_calibration_stack_fits_without_the_saturated_pixels():
    frames, camera = _saturating_stack()
    saturated = int(np.count_nonzero((frames == 65535).any(axis=0)))
    assert 0.03 < saturated / frames[0].size < 0.15
    with pytest.warns(UserWarning, match=SATURATED.format(65535, " in at least one frame")):
        model = make_noise_model(frames, settings=QUICK).noise_model
    assert model.metadata["fit"]["saturated_pixels"] == saturated
    # The top of the range is set by pixels that never saturate: their mean is unbiased.
    assert model.max_signal < 65535 - np.sqrt(camera.variance(65535))
    top = np.array([0.9, 1.0]) * model.max_signal
    ratio = model.variance(top) / camera.variance(top)
    assert np.all((ratio > 0.7) & (ratio < 1.4)), ratio


def test_a_saturated_calibration_file_is_reported_in_one_line(workspace, capsys):
    frames, _ = _saturating_stack()
    stack = write_tiff(workspace.path("saturated.tif"), frames)
    out = workspace.path("fresh.npz")
    argv = ["fit-noise-model", "--calibration", stack, "--out", out, "--iterations", "20"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite's settings turn our warnings into errors
        assert main([str(part) for part in [*argv, "--quiet"]]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "are saturated (≥ 65535) in at least one frame" in err
    model = load_noise_model(out)
    assert model.max_signal < 65535 and model.metadata["fit"]["saturated_pixels"] > 0


def test_a_fully_saturated_calibration_stack_is_refused(workspace, capsys):
    rng = np.random.default_rng(0)  # over-exposed: every pixel reaches 65535 in some frame
    frames = (65535 - (rng.random((10, 32, 32)) < 0.3)).astype(np.uint16)
    stack = write_tiff(workspace.path("saturated.tif"), frames)
    argv = ["fit-noise-model", "--calibration", stack, "--quiet"]
    reason = refused(capsys, [*argv, "--out", workspace.path("fresh.npz")])
    assert "all 1,024 pixels are saturated (≥ 65535) in at least one frame" in reason
    with pytest.raises(InputError, match="nothing is left to fit a noise model to"):
        make_noise_model(frames, settings=QUICK)


def test_saturation_of_float_data_is_checked_only_at_the_level_the_user_gives():
    frames, _ = _saturating_stack()
    floats = frames.astype(np.float32)
    unchecked = make_noise_model(floats, settings=QUICK).noise_model  # no warning (errors here)
    assert unchecked.metadata["fit"]["saturated_pixels"] is None
    settings = NoiseModelSettings(n_iterations=20, batch_size=2000, saturation=65535.0)
    with pytest.warns(UserWarning, match=SATURATED.format(65535, " in at least one frame")):
        checked = make_noise_model(floats, settings=settings).noise_model
    assert checked.max_signal < unchecked.max_signal


def test_saturated_pixels_of_bootstrapped_images_are_left_out():
    camera = CameraModel(gain=1.0, offset=10.0, read_noise=2.0, bit_depth=8)
    data = make_sample_data(
        seed=4, shape=(64, 64), n_frames=1, peak_photons=300.0, camera=camera,
        n_calibration_frames=1,
    )  # fmt: skip
    noisy = data.noisy.astype(np.uint8)  # an 8-bit camera's own dtype
    saturated = int(np.count_nonzero(noisy == 255))
    assert saturated > 40
    with pytest.warns(UserWarning, match=SATURATED.format(255, "")):
        model = make_noise_model(noisy, source="bootstrap", settings=QUICK).noise_model
    assert model.metadata["fit"]["saturated_pixels"] == saturated
    assert model.max_signal < 255
