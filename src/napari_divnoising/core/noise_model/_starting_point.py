"""Data-driven starting point and variance floor for the Gaussian mixture fit.

Both come from binned statistics of a sample of (signal, observation) pairs: the
empirical variance ``E[(x - s)**2 | s]`` in quantile bins of the signal. Nothing here
assumes a bit depth or a camera: every number scales with the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The default variance floor is this fraction of the smallest binned variance.
FLOOR_FRACTION = 0.25
#: Bins with fewer pairs are too noisy to set the floor.
MIN_PAIRS_PER_BIN = 1000


@dataclass(frozen=True)
class BinnedVariance:
    """Empirical variance of observations around the signal in quantile bins.

    Attributes
    ----------
    signal : ndarray
        Mean signal in each bin.
    variance : ndarray
        ``E[(x - s)**2]`` in each bin.
    count : ndarray
        Pairs in each bin.
    """

    signal: np.ndarray
    variance: np.ndarray
    count: np.ndarray


def binned_variance(signal: np.ndarray, observation: np.ndarray, *, n_bins: int) -> BinnedVariance:
    """Bin pairs by signal quantiles and measure the spread of observations in each bin."""
    edges = np.unique(np.quantile(signal, np.linspace(0.0, 1.0, n_bins + 1)))
    index = np.clip(np.searchsorted(edges, signal, side="right") - 1, 0, edges.size - 2)
    count = np.bincount(index, minlength=edges.size - 1).astype(np.float64)
    filled = count > 0
    total_s = np.bincount(index, weights=signal, minlength=edges.size - 1)
    total_sq = np.bincount(index, weights=(observation - signal) ** 2, minlength=edges.size - 1)
    return BinnedVariance(
        signal=total_s[filled] / count[filled],
        variance=total_sq[filled] / count[filled],
        count=count[filled],
    )


def default_min_sigma(stats: BinnedVariance, *, integer_data: bool) -> float:
    """Return a variance floor that scales with the data.

    A quarter of the smallest variance among well-populated signal bins: low enough not
    to bias any part of the curve, high enough to stop a component collapsing onto a few
    repeated values. Never below the quantisation variance 1/12 for integer data.
    """
    populated = stats.count >= MIN_PAIRS_PER_BIN
    variances = stats.variance[populated] if populated.any() else stats.variance
    floor = FLOOR_FRACTION * float(variances.min())
    floor = max(floor, 1e-6 * float(np.median(stats.variance)))
    if integer_data:
        floor = max(floor, 1.0 / 12.0)
    return floor


def initial_weight(
    stats: BinnedVariance,
    *,
    min_signal: float,
    max_signal: float,
    n_gaussian: int,
    n_coeff: int,
) -> np.ndarray:
    """Return a starting weight matrix (3K, n_coeff): one Gaussian of the right spread.

    The variance polynomial (non-negative coefficients, as the parameterisation needs) is
    a relative least-squares fit to the binned variance; every component starts with it.
    Component means are spread by ±0.5 noise standard deviations and the mixing weights
    differ slightly, which breaks the symmetry between components.
    """
    from scipy.optimize import nnls

    u = (stats.signal - min_signal) / (max_signal - min_signal)
    variance = np.maximum(stats.variance, 1e-12 * stats.variance.max())
    design = np.stack([u**i for i in range(n_coeff)], axis=1)
    # Dividing by the variance makes the fit relative: dark and bright bins count alike.
    coefficients, _ = nnls(design / variance[:, None], np.ones_like(variance))
    coefficients = np.maximum(coefficients, 1e-6 * max(coefficients.max(), variance.max()))
    weight = np.zeros((3 * n_gaussian, n_coeff))
    scale = float(np.sqrt(np.median(variance)))
    weight[:n_gaussian, 0] = np.linspace(-0.5, 0.5, n_gaussian) * scale
    weight[n_gaussian : 2 * n_gaussian] = np.log(coefficients)
    weight[2 * n_gaussian :, 0] = np.linspace(-0.1, 0.1, n_gaussian)
    return weight


def coefficient_scale(
    stats: BinnedVariance,
    signal: np.ndarray,
    *,
    min_signal: float,
    max_signal: float,
    n_gaussian: int,
    n_coeff: int,
) -> np.ndarray:
    """Units (3K, n_coeff) in which the optimiser sees the weight matrix.

    Adam moves every parameter by about the learning rate per step, whatever its scale,
    so the parameters are expressed in the data's natural units: mean coefficients in
    noise standard deviations, and the coefficient of ``u**i`` divided by the typical
    ``u**i`` of the data (root mean square). When most pixels are dark, ``u`` stays near
    0 and its coefficients must grow large to act at all; without this they take
    thousands of steps to get there.
    """
    u = (np.asarray(signal, dtype=np.float64) - min_signal) / (max_signal - min_signal)
    u_scale = max(float(np.sqrt(np.mean(u**2))), 1e-3)
    scale = np.ones((3 * n_gaussian, n_coeff)) / u_scale ** np.arange(n_coeff)
    scale[:n_gaussian] *= float(np.sqrt(max(np.median(stats.variance), 1e-12)))
    # Variance coefficients are logarithms already: a step changes them by a fixed ratio.
    scale[n_gaussian : 2 * n_gaussian] = 1.0
    return scale
