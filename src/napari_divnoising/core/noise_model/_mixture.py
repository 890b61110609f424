"""The Gaussian mixture's math as plain functions of the weight matrix.

Shared by :class:`~napari_divnoising.core.noise_model.GaussianMixtureNoiseModel` and the
fit (which differentiates with respect to the weights), so both evaluate exactly the same
function. See :mod:`napari_divnoising.core.noise_model.gmm` for the parameterisation.
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOL", "log_likelihood_from_weight", "mixture_parameters"]

#: The reference adds this to the mixture density. Here it is only the fit's robust floor
#: (see :func:`log_likelihood_from_weight`): a log-sum-exp never needs it to stay finite.
TOL = 1e-10
_LOG_2PI = math.log(2.0 * math.pi)


def _polynomial(coefficients: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Evaluate ``sum_i c[k, i] * u**i`` for every row k.

    Horner's scheme: a matmul is slow for so few coefficients.
    """
    value = coefficients[:, -1].expand((*u.shape[:-1], coefficients.shape[0]))
    for i in range(coefficients.shape[1] - 2, -1, -1):
        value = value * u + coefficients[:, i]
    return value


def mixture_parameters(
    weight: torch.Tensor,
    signal: torch.Tensor,
    *,
    min_signal: float,
    max_signal: float,
    min_sigma: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Evaluate the mixture's means, variances and log mixing weights at `signal`.

    Parameters
    ----------
    weight : torch.Tensor, shape (3K, n_coeff)
        The reference weight matrix.
    signal : torch.Tensor
        Signal values, any shape ``S``.
    min_signal, max_signal : float
        The signal range that maps to ``u`` in [0, 1].
    min_sigma : float
        Floor on the component variances.

    Returns
    -------
    means, variances, log_weights : torch.Tensor, each of shape ``S + (K,)``
        Re-centred component means, floored component variances and log mixing weights.
    """
    n_gaussian = weight.shape[0] // 3
    u = ((signal - min_signal) / (max_signal - min_signal)).unsqueeze(-1)
    means = _polynomial(weight[:n_gaussian], u)
    variances = torch.clamp(
        _polynomial(torch.exp(weight[n_gaussian : 2 * n_gaussian]), u), min=min_sigma
    )
    log_weights = torch.log_softmax(_polynomial(weight[2 * n_gaussian :], u), dim=-1)
    mixture_mean = (torch.exp(log_weights) * means).sum(dim=-1, keepdim=True)
    means = means - mixture_mean + signal.unsqueeze(-1)
    return means, variances, log_weights


def log_likelihood_from_weight(
    weight: torch.Tensor,
    observation: torch.Tensor,
    signal: torch.Tensor,
    *,
    min_signal: float,
    max_signal: float,
    min_sigma: float,
    floor: float = 0.0,
) -> torch.Tensor:
    """Elementwise ``log(p(x|s) + floor)`` of the mixture given by `weight`.

    The fit uses this with a weight that requires gradients; the model class uses it
    with its stored weight, so both evaluate the same mixture.

    The model's likelihood is the exact density (``floor=0``): a floor is flat, and where
    the signal is many standard deviations from the observation -- every bright pixel at
    the start of a VAE's training, when the decoder returns the background -- it leaves
    no gradient, and the VAE collapses onto a constant image. The fit passes the
    reference's ``floor=1e-10``: there the signal is known, and the floor makes rare
    outliers (hot pixels, cosmic rays) cost a bounded amount instead of widening the model.

    Parameters
    ----------
    weight : torch.Tensor, shape (3K, n_coeff)
        The reference weight matrix.
    observation, signal : torch.Tensor
        Observations and signals (float), broadcast against each other.
    min_signal, max_signal, min_sigma : float
        As in :func:`mixture_parameters`.
    floor : float
        Added to the density before the log (0: the exact log-density).

    Returns
    -------
    torch.Tensor
        Log densities with the broadcast shape.
    """
    means, variances, log_weights = mixture_parameters(
        weight, signal, min_signal=min_signal, max_signal=max_signal, min_sigma=min_sigma
    )
    log_normal = -0.5 * ((observation.unsqueeze(-1) - means) ** 2 / variances)
    log_normal = log_normal - 0.5 * (torch.log(variances) + _LOG_2PI)
    log_p = torch.logsumexp(log_weights + log_normal, dim=-1)
    if floor <= 0:
        return log_p
    return torch.logaddexp(log_p, torch.full_like(log_p, math.log(floor)))
