"""The Gaussian mixture's math as plain functions of the weight matrix.

Shared by :class:`~napari_divnoising.core.noise_model.GaussianMixtureNoiseModel` and the
fit (which differentiates with respect to the weights), so both evaluate exactly the same
function. See :mod:`napari_divnoising.core.noise_model.gmm` for the parameterisation.
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOL", "fixed_log_likelihood", "log_likelihood_from_weight", "mixture_parameters"]

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


def _polynomial_with_slope(
    coefficients: list[float], u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``P(u)`` and ``dP/du`` for scalar `coefficients` (lowest order first)."""
    value = torch.full_like(u, coefficients[-1])
    slope = torch.zeros_like(u)
    for coefficient in reversed(coefficients[:-1]):
        slope = slope.mul_(u).add_(value)
        value = value.mul(u).add_(coefficient)
    return value, slope


def _log_likelihood_and_slope(
    weight: torch.Tensor,
    observation: torch.Tensor,
    signal: torch.Tensor,
    *,
    min_signal: float,
    max_signal: float,
    min_sigma: float,
    with_slope: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``log p(x|s)`` and, if asked, ``d log p / ds``, one component at a time.

    The same function as :func:`log_likelihood_from_weight`, evaluated on tensors of the
    signal's shape with scalar coefficients: every operation then runs over one contiguous
    array, where the ``(..., K)`` layout makes each a short strided loop and autograd would
    keep a dozen such tensors for its backward pass.
    """
    n_gaussian = weight.shape[0] // 3
    rows = weight.detach().double().cpu().tolist()
    span = max_signal - min_signal
    observation, signal = torch.broadcast_tensors(observation, signal)
    u = (signal - min_signal) / span
    # The derivatives are taken with respect to u; d s / d u = span.
    raw_means, variances, logits = [], [], []
    for k in range(n_gaussian):
        raw_means.append(_polynomial_with_slope(rows[k], u))
        value, slope = _polynomial_with_slope([math.exp(c) for c in rows[n_gaussian + k]], u)
        floored = value <= min_sigma
        variances.append((value.clamp_(min=min_sigma), slope.masked_fill_(floored, 0.0)))
        logits.append(_polynomial_with_slope(rows[2 * n_gaussian + k], u))
    normaliser = torch.logsumexp(torch.stack([value for value, _ in logits]), dim=0)
    log_weights = [value - normaliser for value, _ in logits]
    weights = [log_weight.exp() for log_weight in log_weights]
    mixture_mean = sum(w * m for w, (m, _) in zip(weights, raw_means, strict=True))
    terms = []
    for k in range(n_gaussian):
        variance = variances[k][0]
        residual = observation - (raw_means[k][0] - mixture_mean + signal)
        log_normal = -0.5 * (residual.square() / variance + variance.log() + _LOG_2PI)
        terms.append(log_weights[k] + log_normal)
    log_p = torch.logsumexp(torch.stack(terms), dim=0)
    if not with_slope:
        return log_p, None
    mean_logit_slope = sum(w * slope for w, (_, slope) in zip(weights, logits, strict=True))
    log_weight_slopes = [slope - mean_logit_slope for _, slope in logits]
    mixture_mean_slope = sum(
        w * (lws * m + dm)
        for w, lws, (m, dm) in zip(weights, log_weight_slopes, raw_means, strict=True)
    )
    slope_of_log_p = torch.zeros_like(log_p)
    for k in range(n_gaussian):
        (raw_mean, raw_mean_slope), (variance, variance_slope) = raw_means[k], variances[k]
        residual = observation - (raw_mean - mixture_mean + signal)
        mean_slope = raw_mean_slope - mixture_mean_slope + span
        scaled = residual / variance
        log_normal_slope = scaled * mean_slope + 0.5 * variance_slope / variance * (
            scaled * residual - 1.0
        )
        responsibility = (terms[k] - log_p).exp_()
        slope_of_log_p += responsibility * (log_weight_slopes[k] + log_normal_slope)
    return log_p, slope_of_log_p / span


class _SignalLogLikelihood(torch.autograd.Function):
    """``log p(x|s)`` differentiable in the signal only.

    Its derivative is computed in the forward pass; the noise model is fixed, so the weight
    gets no gradient.
    """

    @staticmethod
    def forward(ctx, weight, observation, signal, min_signal, max_signal, min_sigma):
        log_p, slope = _log_likelihood_and_slope(
            weight,
            observation,
            signal,
            min_signal=min_signal,
            max_signal=max_signal,
            min_sigma=min_sigma,
            with_slope=ctx.needs_input_grad[2],
        )
        ctx.save_for_backward(slope if slope is not None else torch.empty(0))
        ctx.signal_shape = signal.shape
        return log_p

    @staticmethod
    def backward(ctx, grad_output):
        (slope,) = ctx.saved_tensors
        grad_signal = None
        if ctx.needs_input_grad[2]:
            grad_signal = (grad_output * slope).sum_to_size(ctx.signal_shape)
        return None, None, grad_signal, None, None, None


def fixed_log_likelihood(
    weight: torch.Tensor,
    observation: torch.Tensor,
    signal: torch.Tensor,
    *,
    min_signal: float,
    max_signal: float,
    min_sigma: float,
) -> torch.Tensor:
    """Elementwise exact ``log p(x|s)`` of a fixed mixture, differentiable in `signal`.

    Equal to :func:`log_likelihood_from_weight` with ``floor=0`` (to float32 rounding) and
    about twice as fast with a gradient: what a VAE's training evaluates at every step.
    The weight never receives a gradient; the fit, which needs one, uses
    :func:`log_likelihood_from_weight`.
    """
    return _SignalLogLikelihood.apply(
        weight, observation, signal, float(min_signal), float(max_signal), float(min_sigma)
    )
