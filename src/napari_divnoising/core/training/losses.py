"""The DivNoising loss: a per-pixel evidence lower bound (ELBO).

The reconstruction term is ``-log p(x | s)`` of the noisy observation ``x`` under the
camera noise model, with the decoder's signal ``s`` taken back to raw units; the KL term
is the divergence of q(z|x) from the standard-normal prior, divided by the number of
pixels so that both terms are per pixel. Both are computed in float32 even when the network
runs under bfloat16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..errors import SettingsError

__all__ = [
    "ElboTerms",
    "GaussianLikelihood",
    "Likelihood",
    "check_likelihood_choice",
    "elbo_terms",
    "kl_divergence",
]


class Likelihood(Protocol):
    """Anything with an elementwise ``log_likelihood(observation, signal)`` in raw units."""

    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise log-density of `observation` given `signal`."""
        ...

    def sample_observation(self, signal: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Draw one noisy observation per signal value."""
        ...


def check_likelihood_choice(noise_model: object, gaussian_sigma: float | None) -> None:
    """Check that exactly one likelihood is chosen: a noise model or a Gaussian σ.

    Parameters
    ----------
    noise_model : NoiseModel or None
        The camera noise model.
    gaussian_sigma : float or None
        The standard deviation of Gaussian noise, used without a noise model.

    Raises
    ------
    SettingsError
        If both or neither are given.
    """
    if (noise_model is None) == (gaussian_sigma is None):
        given = "both" if noise_model is not None else "neither"
        raise SettingsError(
            f"give exactly one likelihood: a `noise_model` or a `gaussian_sigma` (got {given})"
        )


class GaussianLikelihood:
    """Signal-independent Gaussian noise, the likelihood used without a noise model.

    Parameters
    ----------
    sigma : float
        Standard deviation of the noise, in raw intensity units.
    """

    def __init__(self, sigma: float) -> None:
        if not (math.isfinite(sigma) and sigma > 0):
            raise SettingsError(f"`gaussian_sigma` must be a positive number (got {sigma!r})")
        self.sigma = float(sigma)

    def to(self, device: torch.device | str) -> GaussianLikelihood:
        """Return self (there are no tensors to move)."""
        return self

    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise Gaussian log-density of `observation` around `signal`."""
        residual = (observation - signal) / self.sigma
        return -0.5 * residual.square() - math.log(self.sigma) - 0.5 * math.log(2 * math.pi)

    def sample_observation(self, signal: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Draw one noisy observation per signal value (float64, the shape of `signal`)."""
        return rng.normal(np.asarray(signal, dtype=np.float64), self.sigma)


@dataclass(frozen=True)
class ElboTerms:
    """Per-pixel terms of the negative ELBO (tensors with a graph, for backward)."""

    reconstruction: torch.Tensor
    kl: torch.Tensor

    def loss(self, kl_weight: float = 1.0) -> torch.Tensor:
        """Return the weighted negative ELBO per pixel."""
        return self.reconstruction + kl_weight * self.kl


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return the summed KL(N(mu, exp(logvar)) || N(0, 1)) over all elements, in float32."""
    mu = mu.float()
    logvar = logvar.float()
    return 0.5 * torch.sum(mu.square() + logvar.exp() - 1.0 - logvar)


def elbo_terms(
    observation: torch.Tensor,
    reconstruction: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    likelihood: Likelihood,
    data_mean: float,
    data_std: float,
) -> ElboTerms:
    """Per-pixel reconstruction and KL terms of the DivNoising loss.

    Parameters
    ----------
    observation : Tensor, shape (B, 1, H, W)
        Noisy patches in raw units.
    reconstruction : Tensor, shape (B, 1, H, W)
        The decoder output (normalised signal).
    mu, logvar : Tensor
        Parameters of q(z|x).
    likelihood : Likelihood
        The noise model (or a :class:`GaussianLikelihood`).
    data_mean, data_std : float
        Normalisation of the data, to take the signal back to raw units.

    Returns
    -------
    ElboTerms
        Mean negative log-likelihood per pixel and KL per pixel.
    """
    signal = reconstruction.float() * data_std + data_mean
    log_p = likelihood.log_likelihood(observation.float(), signal)
    n_pixels = observation.numel()
    return ElboTerms(reconstruction=-log_p.mean(), kl=kl_divergence(mu, logvar) / n_pixels)
