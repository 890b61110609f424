from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.noise_model import GaussianMixtureNoiseModel
from napari_divnoising.core.noise_model._mixture import (
    fixed_log_likelihood,
    log_likelihood_from_weight,
)

from .reference import reference_likelihood


@pytest.mark.parametrize("n_coeff", [1, 2, 3])
def test_log_likelihood_is_the_reference_function(rng, n_coeff):
    weight = rng.normal(size=(9, n_coeff)).astype(np.float32)
    weight[3:6, 0] += np.log(20.0)
    model = GaussianMixtureNoiseModel(weight, min_signal=5.0, max_signal=300.0, min_sigma=2.0)
    signal = rng.uniform(0.0, 320.0, 500)
    observation = signal + rng.normal(0.0, 8.0, 500)
    expected = np.log(
        reference_likelihood(
            weight, observation, signal, min_signal=5.0, max_signal=300.0, min_sigma=2.0, offset=0
        )
    )
    got = model.log_likelihood(torch.tensor(observation), torch.tensor(signal))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_coeff", [1, 2, 3])
def test_the_fused_gradient_in_the_signal_is_autograds(rng, n_coeff):
    # Training differentiates the fixed mixture through a hand-written derivative; it must
    # be the derivative of the fit's function everywhere, including signals outside the
    # fitted range and variances held at their floor.
    weight = torch.tensor(rng.normal(size=(9, n_coeff)))
    weight[3:6, 0] += float(np.log(4.0))  # variances near the floor of 2: some floored
    signal = torch.tensor(rng.uniform(-20.0, 340.0, 400), requires_grad=True)
    observation = signal.detach() + torch.tensor(rng.normal(0.0, 30.0, 400))
    settings = {"min_signal": 5.0, "max_signal": 300.0, "min_sigma": 2.0}
    fused = fixed_log_likelihood(weight, observation, signal, **settings)
    (fused_gradient,) = torch.autograd.grad(fused.sum(), signal)
    autograd = log_likelihood_from_weight(weight, observation, signal, **settings)
    (autograd_gradient,) = torch.autograd.grad(autograd.sum(), signal)
    torch.testing.assert_close(fused, autograd, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fused_gradient, autograd_gradient, rtol=1e-8, atol=1e-10)
    assert torch.autograd.gradcheck(
        lambda s: fixed_log_likelihood(weight, observation[:20], s, **settings),
        (signal[:20].detach().clone().requires_grad_(True),),
    )


def test_log_likelihood_stays_finite_far_in_the_tails(tiny_gmm):
    signal = torch.tensor([50.0, 50.0, 200.0], requires_grad=True)
    observation = torch.tensor([50.0, 1e6, -1e6])
    log_p = tiny_gmm.log_likelihood(observation, signal)
    assert torch.isfinite(log_p).all()
    # Far away the log-density is exact (not an underflowed 0, not a flat 1e-10 floor) ...
    assert log_p[1].item() < 1000 * np.log(1e-10)
    log_p.sum().backward()
    assert torch.isfinite(signal.grad).all()
    # ... so it still pulls the signal up towards a far brighter observation: no plateau.
    assert signal.grad[1] > 0


def test_log_likelihood_broadcasts_and_is_differentiable(tiny_gmm):
    observation = torch.linspace(0.0, 300.0, 20).reshape(1, 4, 5)
    signal = torch.linspace(20.0, 240.0, 15).reshape(3, 1, 5).requires_grad_(True)
    log_p = tiny_gmm.log_likelihood(observation, signal)
    assert log_p.shape == (3, 4, 5)
    log_p.sum().backward()
    assert signal.grad is not None
    assert signal.grad.abs().sum() > 0


def test_log_likelihood_accepts_other_float_dtypes(tiny_gmm):
    observation = torch.tensor([100.0, 120.0], dtype=torch.float64)
    signal = torch.tensor([110.0, 110.0], dtype=torch.bfloat16)
    log_p = tiny_gmm.log_likelihood(observation, signal)
    assert log_p.dtype == torch.float32


def test_to_returns_the_model_on_that_device(tiny_gmm):
    assert tiny_gmm.to("cpu") is tiny_gmm
    assert tiny_gmm.weight.device == torch.device("cpu")


def test_mean_equals_signal_and_variance_matches_samples(tiny_gmm, rng):
    signal = np.array([15.0, 80.0, 240.0])
    np.testing.assert_allclose(tiny_gmm.mean(signal), signal, rtol=1e-9)
    draws = tiny_gmm.sample_observation(np.repeat(signal, 40000).reshape(3, -1), rng=rng)
    assert np.all(np.abs(draws.mean(axis=1) - signal) < 0.05 * draws.std(axis=1))
    np.testing.assert_allclose(draws.var(axis=1), tiny_gmm.variance(signal), rtol=0.05)


def test_density_integrates_to_one(tiny_gmm):
    grid = np.linspace(-500.0, 800.0, 20001)
    density = tiny_gmm.density(grid, 120.0)
    assert density.shape == grid.shape
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


def test_variance_floor_applies_to_every_component(rng):
    weight = np.zeros((9, 2), dtype=np.float32)
    weight[3:6] = -10.0  # tiny polynomial variances, so the floor decides
    model = GaussianMixtureNoiseModel(weight, min_signal=0.0, max_signal=1.0, min_sigma=7.5)
    _, variances, _ = model.mixture_parameters(torch.tensor([0.1, 0.9]))
    np.testing.assert_allclose(variances.numpy(), 7.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight": np.zeros((4, 2))}, r"shape \(3 \* n_gaussian, n_coeff\).*\(4, 2\)"),
        ({"weight": np.full((3, 2), np.nan)}, "NaN"),
        ({"min_sigma": 0.0}, r"min_sigma.*> 0 \(got 0.0\)"),
        ({"min_signal": 5.0, "max_signal": 5.0}, r"min_signal.*smaller than.*max_signal"),
    ],
)
def test_constructor_rejects_bad_parameters(kwargs, match):
    arguments = {
        "weight": np.zeros((3, 2)),
        "min_signal": 0.0,
        "max_signal": 1.0,
        "min_sigma": 1.0,
    }
    arguments.update(kwargs)
    weight = arguments.pop("weight")
    with pytest.raises(ValueError, match=match):
        GaussianMixtureNoiseModel(weight, **arguments)


def test_check_signal_range_warns_with_the_numbers(tiny_gmm):
    from napari_divnoising.core.noise_model import NoiseModelRangeWarning

    tiny_gmm.check_signal_range(np.array([12.0, 240.0]))  # inside: no warning (errors here)
    with pytest.warns(
        NoiseModelRangeWarning, match=r"`frames` spans intensities 12 to 5000.*10 to 250"
    ):
        tiny_gmm.check_signal_range(np.array([12.0, 5000.0]), name="frames")


def test_check_signal_range_tells_a_shift_from_a_range_not_covered(tiny_gmm, rng):
    from napari_divnoising.core.noise_model import NoiseModelRangeWarning

    shifted = rng.uniform(10.0, 200.0, 10_000) - 150
    with pytest.warns(NoiseModelRangeWarning, match=r"\(\d+\.\d% of it lies below") as caught:
        tiny_gmm.check_signal_range(shifted)
    assert "as if shifted: its offset (dark level) differs" in str(caught[0].message)
    wider = rng.uniform(10.0, 2000.0, 10_000)  # more light, not an offset
    with pytest.warns(NoiseModelRangeWarning, match="cover these intensities") as caught:
        tiny_gmm.check_signal_range(wider)
    assert "offset" not in str(caught[0].message)
    # A summary (min, max) gives no fractions; both ends below still mean a shift.
    with pytest.warns(
        NoiseModelRangeWarning, match=r"-200 to -50, but .* 10 to 250; its"
    ) as caught:
        tiny_gmm.check_signal_range(np.array([-200.0, -50.0]))
    assert "as if shifted" in str(caught[0].message)
