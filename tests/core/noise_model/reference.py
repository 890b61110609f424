"""The reference (juglab/PPN2V) Gaussian mixture likelihood, written out term by term.

Used only to check that our vectorised, log-domain implementation computes the same
function: polynomial in the normalised signal, exponentiated variance coefficients with a
floor, normalised exp weights, re-centred means, and a 1e-10 offset on the density
(which our model leaves out of the likelihood and keeps only in the fit: ``offset=0``).
"""

from __future__ import annotations

import math

import numpy as np


def reference_likelihood(
    weight, observation, signal, *, min_signal, max_signal, min_sigma, offset=1e-10
):
    """p(x|s) + offset in float64 numpy, one component at a time."""
    weight = np.asarray(weight, dtype=np.float64)
    n_gaussian = weight.shape[0] // 3
    u = (np.asarray(signal, dtype=np.float64) - min_signal) / (max_signal - min_signal)

    def poly(coefficients):
        return sum(c * u**i for i, c in enumerate(coefficients))

    means = [poly(weight[k]) for k in range(n_gaussian)]
    variances = [
        np.maximum(poly(np.exp(weight[n_gaussian + k])), min_sigma) for k in range(n_gaussian)
    ]
    alphas = [np.exp(poly(weight[2 * n_gaussian + k]) + 1e-10) for k in range(n_gaussian)]
    total = sum(alphas)
    alphas = [a / total for a in alphas]
    mixture_mean = sum(a * m for a, m in zip(alphas, means, strict=True))
    means = [m - mixture_mean + signal for m in means]
    x = np.asarray(observation, dtype=np.float64)
    density = sum(
        a * np.exp(-((x - m) ** 2) / (2 * v)) / np.sqrt(2 * math.pi * v)
        for a, m, v in zip(alphas, means, variances, strict=True)
    )
    return density + offset
