"""MAP estimate by patch-wise mean shift with a bandwidth relative to the samples' spread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.prediction.mean_shift import estimate_map, mean_shift_mode


@pytest.fixture
def two_modes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """70 samples show a bright square, 30 do not; pixel noise σ = 1."""
    main = np.zeros((40, 40), np.float32)
    main[10:30, 12:28] = 6.0
    samples = np.concatenate(
        [main + rng.normal(0, 1, (70, 40, 40)), rng.normal(0, 1, (30, 40, 40))]
    ).astype(np.float32)
    return samples[rng.permutation(100)], main


def test_finds_the_main_mode_of_a_bimodal_distribution(two_modes):
    samples, main = two_modes
    estimate = estimate_map(samples)
    mean = samples.mean(0)
    assert estimate.shape == main.shape and estimate.dtype == np.float32
    # The mean sits between the modes (1.8 below the square); the MAP sits on the main one.
    assert np.abs(mean - main).max() > 1.5
    assert np.abs(estimate - main).max() < 0.6
    assert np.sqrt(np.mean((estimate - main) ** 2)) < 0.2


def test_unimodal_gaussian_samples_give_their_mean(rng):
    samples = (50.0 + 3.0 * rng.standard_normal((60, 48, 40))).astype(np.float32)
    estimate = estimate_map(samples)
    # Close to the mean, within a fraction of the per-pixel spread (3.0).
    assert np.abs(estimate - samples.mean(0)).mean() < 0.2


def test_result_follows_scaling_and_offset_of_the_data(two_modes):
    samples, _ = two_modes
    estimate = estimate_map(samples)
    scaled = estimate_map(250.0 * samples + 3000.0)
    np.testing.assert_allclose(scaled, 250.0 * estimate + 3000.0, rtol=1e-4, atol=0.05)


def test_works_on_8bit_data_where_a_fixed_bandwidth_fails(rng):
    # The reference's bandwidth of 200 counts finds no point on such 8-bit samples.
    signal = rng.uniform(5, 60, (1, 32, 32))
    samples = np.clip(np.round(signal + rng.normal(0, 8, (50, 32, 32))), 0, 255).astype(np.uint8)
    estimate = estimate_map(samples)
    assert np.isfinite(estimate).all()
    assert np.abs(estimate - samples.mean(0)).mean() < 2.0


def test_one_sample_or_identical_samples_are_their_own_mode(rng):
    single = rng.normal(size=(1, 12, 10)).astype(np.float32)
    np.testing.assert_array_equal(estimate_map(single), single[0])
    same = np.repeat(single, 5, axis=0)
    np.testing.assert_allclose(estimate_map(same), single[0], atol=1e-6)


def test_tiles_aligned_by_origin_agree_with_the_whole_image(two_modes):
    samples, _ = two_modes
    whole = mean_shift_mode(torch.from_numpy(samples), origin=(0, 0)).numpy()
    crop = samples[:, 4:36, 12:40]
    part = mean_shift_mode(torch.from_numpy(np.ascontiguousarray(crop)), origin=(4, 12)).numpy()
    # Away from the crop's edges the patches, and so the estimates, are the same.
    np.testing.assert_allclose(part[12:-12, 12:-12], whole[16:24, 24:28], atol=0.05)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"patch_size": 15}, "patch_size"),
        ({"bandwidth": (0.5, 1.0)}, "bandwidth"),
        ({"reduce": 1.0}, "reduce"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_bad_settings_are_refused(rng, options, match):
    with pytest.raises(ValueError, match=match):
        estimate_map(rng.normal(size=(4, 8, 8)), **options)


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        estimate_map(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        estimate_map(np.full((3, 8, 8), np.nan))
