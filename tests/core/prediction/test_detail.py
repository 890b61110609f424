"""Detail restoration: the part of the residual the noise model cannot explain comes back."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_divnoising.core.model.likelihood import GaussianLikelihood
from napari_divnoising.core.prediction.detail import noise_variance, restore_detail


@pytest.fixture
def scene(rng):
    """Thin bright lines on a dark background, with Gaussian noise of σ = 3."""
    clean = np.full((128, 128), 20.0)
    clean[::40, :] = 80.0
    clean[:, ::40] = 80.0
    noisy = clean + rng.normal(0.0, 3.0, clean.shape)
    return clean, noisy


def mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - b) ** 2))


def test_an_estimate_that_lost_the_lines_gets_them_back(scene):
    clean, noisy = scene
    blurred = ndimage.gaussian_filter(clean, 3.0)  # a denoiser that smoothed the lines away
    restored, gain = restore_detail(blurred, noisy, GaussianLikelihood(3.0))
    assert mse(restored, clean) < 0.5 * mse(blurred, clean)
    # Better than both inputs: the blur and the noisy image itself.
    assert mse(restored, clean) < mse(noisy, clean)
    on_lines = clean > 50
    far = ndimage.distance_transform_edt(~on_lines) > 8  # beyond the window's reach
    assert gain[on_lines].mean() > 3 * gain[far].mean()


def test_a_good_estimate_is_kept_where_the_residual_is_noise(scene):
    clean, noisy = scene
    restored, gain = restore_detail(clean, noisy, GaussianLikelihood(3.0))
    assert gain.mean() < 0.1
    assert mse(restored, clean) < 0.1 * mse(noisy, clean)


def test_the_gain_lies_between_zero_and_one_and_the_result_between_inputs(scene):
    _, noisy = scene
    estimate = ndimage.gaussian_filter(noisy, 1.0)
    restored, gain = restore_detail(estimate, noisy, GaussianLikelihood(3.0))
    assert gain.min() >= 0.0 and gain.max() <= 1.0
    low, high = np.minimum(estimate, noisy), np.maximum(estimate, noisy)
    assert np.all(restored >= low - 1e-4) and np.all(restored <= high + 1e-4)
    assert restored.dtype == np.float32 and restored.shape == noisy.shape


def test_planes_of_a_stack_are_restored_independently(scene):
    clean, noisy = scene
    blurred = ndimage.gaussian_filter(clean, 3.0)
    stack = np.stack([blurred, clean])
    restored, _ = restore_detail(stack, np.stack([noisy, noisy]), GaussianLikelihood(3.0))
    alone, _ = restore_detail(blurred, noisy, GaussianLikelihood(3.0))
    np.testing.assert_array_equal(restored[0], alone)


def test_a_noise_model_gives_its_variance_at_the_clipped_signal():
    class Model:
        min_signal, max_signal = 10.0, 100.0

        def variance(self, signal):
            return 2.0 * signal

    variance = noise_variance(Model(), np.array([0.0, 50.0, 500.0]))
    np.testing.assert_allclose(variance, [20, 100, 200])
    assert noise_variance(GaussianLikelihood(2.0), np.zeros(3)).tolist() == [4.0] * 3


def test_on_real_confocal_data_restoring_a_smoothed_estimate_beats_it_and_the_noisy_frame(
    shared_data_dir,
):
    import tifffile

    from napari_divnoising.core.quality.metrics import psnr

    stack = tifffile.imread(shared_data_dir / "fmd_confocal_bpae_b" / "view01_raw.tif")
    noisy = stack[0].astype(np.float64)
    truth = stack.mean(axis=0)  # the unrounded 50-frame mean

    class PoissonGaussian:
        """The camera's variance line, measured from the other 49 frames (not the truth)."""

        min_signal, max_signal = 0.0, 255.0

        def __init__(self, frames):
            mean, var = frames.mean(axis=0).ravel(), frames.var(axis=0, ddof=1).ravel()
            self.gain, self.intercept = np.polyfit(mean, var, 1)

        def variance(self, signal):
            return np.maximum(self.gain * signal + self.intercept, 1e-3)

    smoothed = ndimage.gaussian_filter(noisy, 3.0)  # an estimate that lost the fine detail
    restored, _ = restore_detail(smoothed, noisy, PoissonGaussian(stack[1:].astype(np.float64)))
    assert psnr(restored, truth) > psnr(smoothed, truth) + 0.5
    assert psnr(restored, truth) > psnr(noisy, truth) + 2.0
