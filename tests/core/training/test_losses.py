"""The per-pixel ELBO and the schedules."""

from __future__ import annotations

import math

import pytest
import torch

from napari_divnoising.core.model.config import TrainingConfig
from napari_divnoising.core.model.likelihood import GaussianLikelihood
from napari_divnoising.core.training.losses import elbo_terms, kl_divergence
from napari_divnoising.core.training.schedules import KLWeight, LearningRate


def test_gaussian_likelihood_is_the_normal_log_density():
    observation, signal = torch.tensor([1.0, 4.0]), torch.tensor([1.0, 2.0])
    expected = torch.distributions.Normal(signal, 2.0).log_prob(observation)
    torch.testing.assert_close(
        GaussianLikelihood(2.0).log_likelihood(observation, signal), expected
    )
    with pytest.raises(ValueError, match="positive number"):
        GaussianLikelihood(0.0)


def test_kl_is_zero_at_the_prior_and_float32():
    assert kl_divergence(torch.zeros(3), torch.zeros(3)).item() == 0.0
    value = kl_divergence(
        torch.ones(2, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.bfloat16)
    )
    assert value.dtype == torch.float32 and value.item() == pytest.approx(1.0)


def test_elbo_is_per_pixel_in_raw_units():
    observation = torch.full((2, 1, 4, 4), 12.0)
    reconstruction = torch.zeros(2, 1, 4, 4, dtype=torch.bfloat16)  # signal = mean = 10
    mu, logvar = torch.ones(2, 3, 1, 1), torch.zeros(2, 3, 1, 1)
    terms = elbo_terms(
        observation,
        reconstruction,
        mu,
        logvar,
        likelihood=GaussianLikelihood(2.0),
        data_mean=10.0,
        data_std=5.0,
    )
    nll = 0.5 + math.log(2.0) + 0.5 * math.log(2 * math.pi)
    assert terms.reconstruction.item() == pytest.approx(nll)
    assert terms.kl.item() == pytest.approx(6 * 0.5 / 32)
    assert terms.loss(0.0).item() == pytest.approx(nll)


def test_cosine_over_steps_and_over_the_time_budget():
    config = TrainingConfig(
        lr_schedule="cosine", learning_rate=1.0, min_lr_fraction=0.0, warmup_steps=10
    )
    schedule = LearningRate(config, total_steps=100)
    assert schedule.at(0, 0.0) == pytest.approx(0.1)
    assert schedule.at(50, 0.0) == pytest.approx(0.5)
    assert schedule.at(100, 0.0) == pytest.approx(0.0)
    budget = LearningRate(
        TrainingConfig(time_budget_minutes=1, learning_rate=1.0, min_lr_fraction=0.1),
        total_steps=10**6,
    )
    assert budget.at(5, 30.0) == pytest.approx(0.55)
    assert budget.at(5, 120.0) == pytest.approx(0.1)


def test_plateau_halves_after_patience():
    schedule = LearningRate(TrainingConfig(learning_rate=1.0, lr_patience=2), total_steps=100)
    for loss in [3.0, 2.0, 2.0, 2.0]:
        schedule.end_epoch(loss)
    assert schedule.at(0, 0.0) == 1.0
    schedule.end_epoch(2.0)
    assert schedule.at(0, 0.0) == 0.5


def test_kl_warmup_ramp():
    weight = KLWeight(1.0, warmup_steps=4, start=10)
    assert [weight.at(s) for s in (5, 10, 11, 13, 20)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert KLWeight(0.5, warmup_steps=0).at(0) == 0.5


def test_noise_model_loss_pulls_a_dark_prediction_up_to_far_brighter_pixels():
    """No flat floor in the likelihood: the cause of posterior collapse on real data.

    At the start of training the decoder returns the background everywhere; a bright pixel
    is then tens of noise standard deviations away. A likelihood with the reference's
    ``p + 1e-10`` offset is flat there (zero gradient), and the VAE collapsed onto a
    constant image on FMD confocal data.
    """
    from napari_divnoising.core.noise_model import GaussianMixtureNoiseModel

    # One Gaussian of variance 4 around the signal, for signals 0..200.
    weight = torch.tensor([[0.0], [math.log(4.0)], [0.0]])
    noise_model = GaussianMixtureNoiseModel(weight, min_signal=0, max_signal=200, min_sigma=1)
    observation = torch.tensor([[[[5.0, 120.0]]]])  # background, and a bright pixel
    reconstruction = torch.zeros_like(observation, requires_grad=True)  # signal 5 everywhere
    terms = elbo_terms(
        observation,
        reconstruction,
        torch.zeros(1, 1, 1, 1),
        torch.zeros(1, 1, 1, 1),
        likelihood=noise_model,
        data_mean=5.0,
        data_std=10.0,
    )
    terms.reconstruction.backward()
    background, bright = reconstruction.grad.flatten().tolist()
    assert background == pytest.approx(0.0, abs=1e-6)
    assert bright < -10  # the loss falls steeply as the bright pixel's signal rises
