import numpy as np
import pytest
from skimage.metrics import normalized_root_mse
from skimage.metrics import structural_similarity as skimage_ssim

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.quality.metrics import (
    nrmse,
    psnr,
    quality_scores,
    rse_map,
    structural_similarity,
)


@pytest.fixture
def clean(rng):
    yy, xx = np.mgrid[0:64, 0:48]
    return 100 + 50 * np.sin(yy / 6.0) * np.cos(xx / 5.0) + rng.normal(0, 1, (64, 48))


@pytest.fixture
def noisy(clean, rng):
    return clean + rng.normal(0, 10, clean.shape)


def test_psnr_follows_the_documented_convention(clean, noisy):
    mse = np.mean((noisy - clean) ** 2)
    expected = 20 * np.log10(clean.max() - clean.min()) - 10 * np.log10(mse)
    assert psnr(noisy, clean) == pytest.approx(expected)


def test_psnr_of_identical_images_is_infinite(clean):
    assert psnr(clean, clean) == np.inf


def test_psnr_does_not_depend_on_prediction_range(clean):
    # The data range is always the ground truth's: a prediction with outliers scores worse,
    # not better.
    spiky = clean.copy()
    spiky[0, 0] += 1000
    assert psnr(spiky, clean) < psnr(clean + 1, clean)


def test_ssim_mean_equals_scikit_image(clean, noisy):
    result = structural_similarity(noisy, clean)
    expected = skimage_ssim(
        clean,
        noisy,
        data_range=clean.max() - clean.min(),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert result.mean == pytest.approx(expected, rel=1e-6)
    assert result.map.shape == clean.shape
    assert result.map.dtype == np.float32


def test_ssim_of_stack_is_computed_per_plane(clean, noisy):
    stack_result = structural_similarity(np.stack([noisy, clean]), np.stack([clean, clean]))
    assert stack_result.map.shape == (2, *clean.shape)
    np.testing.assert_allclose(stack_result.map[1], 1.0, atol=1e-6)
    assert stack_result.mean == pytest.approx((structural_similarity(noisy, clean).mean + 1) / 2)


def test_nrmse_equals_scikit_image_min_max(clean, noisy):
    expected = normalized_root_mse(clean, noisy, normalization="min-max")
    assert nrmse(noisy, clean) == pytest.approx(expected)


def test_rse_map_is_zero_for_identical_images(clean):
    np.testing.assert_allclose(rse_map(clean, clean), 0.0, atol=1e-6)


def test_rse_map_ignores_affine_intensity_changes(clean):
    # The prediction is mapped onto the ground truth's scale first, as in ZeroCostDL4Mic.
    np.testing.assert_allclose(rse_map(3 * clean + 7, clean), 0.0, atol=1e-5)


def test_rse_map_is_larger_where_the_error_is(clean):
    damaged = clean.copy()
    damaged[10:20, 10:20] += 40
    error = rse_map(damaged, clean)
    assert error[10:20, 10:20].mean() > 5 * error[40:, 30:].mean()


def test_denoising_scores_better_than_noise(clean, noisy):
    from scipy.ndimage import gaussian_filter

    smoothed = gaussian_filter(noisy, 1.0)
    noisy_scores, smoothed_scores = quality_scores(noisy, clean), quality_scores(smoothed, clean)
    assert smoothed_scores.psnr > noisy_scores.psnr
    assert smoothed_scores.ssim > noisy_scores.ssim
    assert smoothed_scores.nrmse < noisy_scores.nrmse


def test_metrics_do_not_modify_their_inputs(clean, noisy):
    clean_copy, noisy_copy = clean.copy(), noisy.copy()
    quality_scores(noisy, clean)
    rse_map(noisy, clean)
    np.testing.assert_array_equal(clean, clean_copy)
    np.testing.assert_array_equal(noisy, noisy_copy)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_metrics_accept_integer_and_float_images(clean, noisy, dtype):
    assert np.isfinite(psnr(noisy.clip(0, 255).astype(dtype), clean.clip(0, 255).astype(dtype)))


def test_shape_mismatch_is_a_clear_error(clean):
    with pytest.raises(InputError, match="same shape"):
        psnr(clean[:10], clean)


def test_constant_ground_truth_is_rejected(clean):
    with pytest.raises(InputError, match="constant"):
        psnr(clean, np.ones_like(clean))


def test_nan_prediction_is_rejected(clean):
    broken = clean.copy()
    broken[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        psnr(broken, clean)


def test_ssim_needs_the_window_to_fit(rng):
    tiny = rng.normal(size=(8, 8))
    with pytest.raises(InputError, match="at least 11"):
        structural_similarity(tiny, tiny + 1)
