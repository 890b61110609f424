"""Detail restoration: put back what the noise model says the MMSE lost.

The residual ``r = observation − MMSE`` of a good denoiser is noise: its local power equals
the noise model's variance at the estimated signal. Where the MMSE has smoothed away
structure (a short training, a filament thinner than the network resolves), the residual
holds that structure too, and its local power exceeds the noise variance. An empirical
Wiener gain per pixel,

    g = max(0, 1 − mean(σ²(MMSE)) / mean(r²))      (means over a local window),

estimates which share of the residual is signal, and ``MMSE + g · r`` restores it. Where
the residual is pure noise, ``g`` is about 0 and the MMSE is kept; where the MMSE lost
everything, ``g`` approaches 1 and the result approaches the observation. Nothing here is
fitted: the only inputs are the observation, the MMSE and the noise model's variance.

The window holds the pixels over which the local powers are averaged: 11×11 = 121 pixels
estimate a residual power to about ±13% (the relative spread of a mean of N squared
Gaussians is √(2/N)), small enough to follow structures a few pixels wide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["DETAIL_WINDOW", "noise_variance", "restore_detail"]

#: Side of the square window over which residual and noise power are compared.
DETAIL_WINDOW = 11


def noise_variance(likelihood: Any, signal: np.ndarray) -> np.ndarray:
    """Return the noise variance at `signal` under a noise model or a Gaussian likelihood.

    Parameters
    ----------
    likelihood : NoiseModel or GaussianLikelihood
        A noise model (its ``variance``, with the signal clipped to the range it was
        fitted on), or an object with a constant ``sigma``.
    signal : ndarray
        Signal values, raw units.

    Returns
    -------
    ndarray of float64
    """
    if hasattr(likelihood, "variance"):
        clipped = np.clip(signal, likelihood.min_signal, likelihood.max_signal)
        return np.asarray(likelihood.variance(clipped), dtype=np.float64)
    return np.full(np.shape(signal), float(likelihood.sigma) ** 2)


def restore_detail(
    estimate: np.ndarray,
    observation: np.ndarray,
    likelihood: Any,
    *,
    window: int = DETAIL_WINDOW,
) -> tuple[np.ndarray, np.ndarray]:
    """Add back the share of the residual that the noise cannot explain.

    Parameters
    ----------
    estimate : ndarray
        The MMSE (2D or a stack of planes), raw units.
    observation : ndarray
        The noisy image it was computed from, same shape.
    likelihood : NoiseModel or GaussianLikelihood
        The model's noise model (or Gaussian likelihood).
    window : int
        Side of the local window, in pixels (planes are filtered separately).

    Returns
    -------
    restored : ndarray of float32
        ``estimate + gain · (observation − estimate)``.
    gain : ndarray of float32
        The local Wiener gain, between 0 (kept the estimate) and 1 (took the observation).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_divnoising.core.model.likelihood import GaussianLikelihood
    >>> rng = np.random.default_rng(0)
    >>> clean = np.zeros((64, 64))
    >>> noisy = clean + rng.normal(0, 2, clean.shape)
    >>> restored, gain = restore_detail(clean, noisy, GaussianLikelihood(2.0))
    >>> bool(gain.mean() < 0.1)  # the residual is noise: the estimate is kept
    True
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    residual = np.asarray(observation, dtype=np.float64) - estimate
    size = (1,) * (estimate.ndim - 2) + (window, window)
    residual_power = ndimage.uniform_filter(residual * residual, size, mode="reflect")
    noise_power = ndimage.uniform_filter(
        noise_variance(likelihood, estimate), size, mode="reflect"
    )
    gain = np.clip(1.0 - noise_power / np.maximum(residual_power, 1e-12), 0.0, 1.0)
    return (estimate + gain * residual).astype(np.float32), gain.astype(np.float32)
