"""Intervals and their coverage: exact on data drawn from the stated spread."""

from __future__ import annotations

import numpy as np
import pytest

from napari_divnoising.core.uncertainty.intervals import (
    COVERAGE_LEVELS,
    error_ranking,
    gaussian_coverage,
    gaussian_interval,
    oracle_ranking,
    quantile_coverage,
    z_score,
)


@pytest.fixture
def posterior(rng):
    """A mean and spread per pixel, truths drawn from them, and the truths' own noise."""
    mmse = rng.uniform(10.0, 200.0, (120, 130))
    sigma = rng.uniform(0.2, 3.0, mmse.shape)
    stderr = np.full(mmse.shape, 0.5)
    clean = mmse + sigma * rng.standard_normal(mmse.shape)
    measured = clean + stderr * rng.standard_normal(mmse.shape)
    return mmse, sigma, stderr, clean, measured


def test_z_scores_are_the_normal_quantiles():
    assert z_score(0.9) == pytest.approx(1.6449, abs=1e-4)
    assert z_score(0.95) == pytest.approx(1.9600, abs=1e-4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        z_score(1.0)


def test_bounds_enclose_the_mmse_by_z_sigma(posterior):
    mmse, sigma, *_ = posterior
    lower, upper = gaussian_interval(mmse.astype(np.float32), sigma, 0.9)
    assert lower.dtype == np.float32 and (lower <= mmse + 1e-4).all()
    assert (upper >= mmse - 1e-4).all()
    np.testing.assert_allclose(upper - lower, 2 * 1.6449 * sigma, rtol=1e-3)


def test_gaussian_coverage_is_nominal_when_truth_is_drawn_from_sigma(posterior):
    mmse, sigma, _, clean, _ = posterior
    coverage = gaussian_coverage(clean, mmse, sigma)
    for level in COVERAGE_LEVELS:
        assert coverage[level] == pytest.approx(level, abs=0.01)


def test_a_noisy_truth_needs_its_standard_error_or_coverage_looks_low(posterior):
    mmse, sigma, stderr, _, measured = posterior
    unwidened = gaussian_coverage(measured, mmse, sigma)
    widened = gaussian_coverage(measured, mmse, sigma, truth_stderr=stderr)
    assert unwidened[0.9] < 0.87
    for level in COVERAGE_LEVELS:
        assert widened[level] == pytest.approx(level, abs=0.01)


def test_sample_quantiles_cover_as_stated_and_a_scale_spreads_the_samples(posterior, rng):
    mmse, sigma, stderr, clean, measured = posterior
    samples = mmse + sigma * rng.standard_normal((200, *mmse.shape))
    coverage = quantile_coverage(clean, samples)
    for level in COVERAGE_LEVELS:
        assert coverage[level] == pytest.approx(level, abs=0.02)
    # Samples half as wide as the truth's spread, scaled back by 2: nominal again.
    narrow = mmse + 0.5 * (samples - mmse)
    assert quantile_coverage(clean, narrow)[0.9] < 0.65
    assert quantile_coverage(clean, narrow, scale=2.0)[0.9] == pytest.approx(0.9, abs=0.02)
    jittered = quantile_coverage(measured, samples, truth_stderr=stderr)
    assert jittered[0.9] == pytest.approx(0.9, abs=0.02)


def test_the_oracle_ceiling_is_what_errors_drawn_from_sigma_reach(posterior, rng):
    mmse, sigma, _, clean, _ = posterior
    honest = error_ranking(sigma, clean - mmse)
    ceiling = oracle_ranking(sigma)
    assert honest == pytest.approx(ceiling, abs=0.02)
    # A σ map that knows nothing about the errors ranks them at chance.
    shuffled = rng.permutation(sigma.ravel()).reshape(sigma.shape)
    assert abs(error_ranking(shuffled, clean - mmse)) < 0.02
    assert oracle_ranking(sigma, truth_stderr=np.full(sigma.shape, 5.0)) < ceiling
