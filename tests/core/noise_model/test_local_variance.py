"""The images' own noise, from local statistics: independent of any fitted signal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from napari_divnoising.core.noise_model.local_check import (
    BELOW,
    describe_disagreement,
    local_variance,
)
from napari_divnoising.core.sample_data import make_sample_data


@dataclass
class CameraVariance:
    """The exact variance of the sample data's camera, as a noise model states it."""

    gain: float
    offset: float
    read_noise: float
    scale: float = 1.0
    min_signal: float = 0.0
    max_signal: float = 1e6

    def variance(self, signal: np.ndarray) -> np.ndarray:
        shot = self.gain * np.maximum(np.asarray(signal, float) - self.offset, 0.0)
        return self.scale * (shot + self.read_noise**2 + 1.0 / 12.0)  # 1/12: rounding


@pytest.fixture(scope="module")
def sample():
    return make_sample_data()


@pytest.fixture
def exact(sample) -> CameraVariance:
    camera = sample.camera
    return CameraVariance(camera.gain, camera.offset, camera.read_noise)


def test_local_statistics_recover_the_cameras_variance_on_a_simulated_scene(sample, exact):
    check = local_variance(exact, sample.noisy)
    speaks = check.count >= 2000
    assert speaks.sum() >= 15
    ratio = check.empirical[speaks] / check.model[speaks]
    # Texture left in the flattest half of the bright bins can only raise the data's
    # variance (so the check says "model below" only from BELOW on); it never lowers it.
    assert np.median(np.abs(ratio - 1.0)) < 0.05, ratio
    assert np.all(ratio > 0.9), ratio
    assert np.all(ratio < BELOW), ratio
    assert check.model[speaks].max() > 3 * check.model[speaks].min()  # dim to bright
    assert describe_disagreement(check) == ""


@pytest.mark.parametrize(("scale", "said"), [(1.4, "above"), (0.5, "below")])
def test_a_model_off_by_a_factor_is_named_with_where(sample, exact, scale, said):
    exact.scale = scale
    message = describe_disagreement(local_variance(exact, sample.noisy))
    assert said in message and "local statistics" in message


def test_images_of_several_sizes_and_tiny_ones_are_read(sample, exact):
    small = sample.noisy[0, :40, :50]
    check = local_variance(exact, [sample.noisy, small, np.zeros((4, 4))])
    # The flatter half of every bin's 5×5 neighbourhoods (ties may keep a few more).
    pixels = 3 * 252 * 252 + 36 * 46
    assert pixels / 2 <= check.count.sum() <= 0.6 * pixels
    with pytest.raises(ValueError, match="no finite 5×5 neighbourhood"):
        local_variance(exact, [np.zeros((4, 8))])


def test_non_finite_pixels_are_left_out(sample, exact):
    noisy = sample.noisy[0].astype(np.float32)
    whole = local_variance(exact, noisy).count.sum()
    noisy[10:40, 10:40] = np.nan
    check = local_variance(exact, noisy)
    assert np.all(np.isfinite(check.empirical))
    assert check.count.sum() < whole - 0.3 * 34 * 34  # the flatter half of 34² fewer


QUICK = {"n_iterations": 150}


def test_a_fit_to_a_wrong_signal_is_caught_by_the_images_own_statistics(sample, exact):
    from scipy.ndimage import gaussian_filter

    from napari_divnoising.core.noise_model.recipe import make_noise_model
    from napari_divnoising.core.noise_model.settings import NoiseModelSettings

    settings = NoiseModelSettings(**QUICK)
    clean = np.broadcast_to(sample.clean, sample.noisy.shape)
    true = make_noise_model(sample.noisy, source="denoised", denoised=clean, settings=settings)
    assert true.data.local is not None
    assert describe_disagreement(true.data.local) == ""
    # An over-smoothed "clean" image: its pairs hold the lost detail as extra noise, and the
    # model fitted to them sits on its own data points, yet not on the images' statistics.
    blurred = np.broadcast_to(gaussian_filter(sample.clean, 3.0), sample.noisy.shape)
    wrong = make_noise_model(sample.noisy, source="denoised", denoised=blurred, settings=settings)
    assert "above what the images' local statistics imply" in describe_disagreement(
        wrong.data.local
    )
