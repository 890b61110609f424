from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.noise_model import HistogramNoiseModel
from napari_divnoising.core.noise_model.histogram import build_histogram


@pytest.fixture
def edges() -> np.ndarray:
    """Eight bins of width 2 over [0, 16)."""
    return np.arange(0.0, 17.0, 2.0)


@pytest.fixture
def two_row_model(edges) -> HistogramNoiseModel:
    """Signal rows 2 (centre 5) and 5 (centre 11) populated; row 3-4 empty in between."""
    counts = np.zeros((8, 8))
    counts[2, 2] = 3  # s ≈ 5: x in [4, 6) with mass 3/4
    counts[2, 3] = 1
    counts[5, 5] = 1  # s ≈ 11: x in [10, 12)
    return HistogramNoiseModel(build_histogram(counts, edges))


def test_build_histogram_has_the_reference_layout(edges):
    counts = np.zeros((8, 8))
    counts[1, :2] = [1, 3]
    histogram = build_histogram(counts, edges)
    assert histogram.shape == (3, 8, 8)
    np.testing.assert_allclose(histogram[0, 1, :2], [0.25, 0.75])
    assert histogram[0, 0].sum() < 1e-20  # empty rows stay (almost) zero, unnormalised
    np.testing.assert_array_equal(histogram[1][:, 0], edges[:-1])
    np.testing.assert_array_equal(histogram[2][:, 3], edges[1:])


def test_signal_range_defaults_to_the_populated_rows(two_row_model):
    assert (two_row_model.min_signal, two_row_model.max_signal) == (4.0, 12.0)


def test_likelihood_is_a_density_at_row_centres(two_row_model):
    observation = torch.tensor([4.5, 7.0, 10.1])
    signal = torch.tensor([5.0, 5.0, 11.0])
    density = torch.exp(two_row_model.log_likelihood(observation, signal))
    # mass / bin width (2), plus the 1e-10 offset
    np.testing.assert_allclose(density.numpy(), [0.375, 0.125, 0.5], rtol=1e-6)


def test_likelihood_interpolates_along_the_signal_and_is_differentiable(two_row_model):
    # Signal 8 lies halfway between the populated row centres 5 and 11; the empty rows
    # between them are filled in linearly, so the mass is half of each row's.
    signal = torch.tensor([8.0, 8.0], requires_grad=True)
    log_p = two_row_model.log_likelihood(torch.tensor([4.5, 10.5]), signal)
    np.testing.assert_allclose(torch.exp(log_p).detach().numpy(), [0.1875, 0.25], rtol=1e-6)
    log_p.sum().backward()
    assert signal.grad[0] < 0 < signal.grad[1]  # moving towards row 11 favours x = 10.5


def test_mean_variance_and_samples_agree(two_row_model, rng):
    signal = np.array([5.0, 11.0])
    # Row at 5: centres 5 (3/4) and 7 (1/4); uniform within bins of width 2.
    np.testing.assert_allclose(two_row_model.mean(signal), [5.5, 11.0])
    np.testing.assert_allclose(two_row_model.variance(signal), [0.75 + 4 / 12, 4 / 12])
    draws = two_row_model.sample_observation(np.full((20000,), 5.0), rng=rng)
    assert draws.min() >= 4.0 and draws.max() < 8.0
    assert draws.mean() == pytest.approx(5.5, abs=0.03)
    assert draws.var() == pytest.approx(0.75 + 4 / 12, rel=0.05)


def test_density_on_a_grid_sums_to_one(two_row_model):
    grid = np.arange(0.0, 16.0, 0.01) + 0.005
    assert np.sum(two_row_model.density(grid, 6.0)) * 0.01 == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("histogram", "match"),
    [
        (np.zeros((2, 4, 4)), r"shape \(3, bins, bins\) \(got shape \(2, 4, 4\)\)"),
        (np.zeros((3, 4, 5)), r"shape \(3, bins, bins\)"),
        (np.zeros((3, 1, 1)), "at least 2 bins"),
        (np.zeros((3, 4, 4)), "edges must increase"),
    ],
)
def test_constructor_rejects_bad_arrays(histogram, match):
    with pytest.raises(ValueError, match=match):
        HistogramNoiseModel(histogram)


def test_constructor_rejects_an_empty_histogram(edges):
    with pytest.raises(ValueError, match="no populated signal row"):
        HistogramNoiseModel(build_histogram(np.zeros((8, 8)), edges))
