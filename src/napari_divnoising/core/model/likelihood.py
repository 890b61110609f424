"""The decoder likelihood p(x | s): what a noise model must offer, and the Gaussian without one."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch

from ..errors import SettingsError

__all__ = ["GaussianLikelihood", "Likelihood", "check_likelihood_choice"]


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
