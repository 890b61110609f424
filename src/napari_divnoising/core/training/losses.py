"""The DivNoising loss: a per-pixel evidence lower bound (ELBO).

The reconstruction term is ``-log p(x | s)`` of the noisy observation ``x`` under the
camera noise model, with the decoder's signal ``s`` taken back to raw units; the KL term
is the divergence of q(z|x) from the standard-normal prior, divided by the number of
pixels so that both terms are per pixel. Both are computed in float32 even when the network
runs under bfloat16 autocast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.likelihood import Likelihood

__all__ = ["ElboTerms", "elbo_terms", "kl_divergence"]


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
