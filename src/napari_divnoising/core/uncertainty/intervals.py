"""Posterior intervals and how well they hold the truth.

A DivNoising prediction gives, per pixel, the mean of the posterior samples (the MMSE) and
their standard deviation σ. The central interval of probability `level` is taken as
``MMSE ± z·σ`` with ``z`` the standard normal quantile of ``(1 + level) / 2`` (1.645 for
90%), or from the empirical quantiles of the samples themselves.

Against a ground truth, the *coverage* of an interval is the fraction of pixels whose true
value lies inside it: a calibrated 90% interval holds the truth on about 90% of pixels. A
ground truth made by averaging N frames has its own noise (standard error ``√(var/N)``);
pass it as `truth_stderr` and every interval is widened by it (the Gaussian spreads are
added in quadrature, the samples are jittered by it), or a well-calibrated posterior looks
over-confident.

The *ranking* of an uncertainty map is the Spearman correlation between σ and the actual
error ``|MMSE − truth|``. Even a perfect σ cannot rank errors perfectly (an error is one
draw from its spread), so it is read against its *oracle ceiling*: the same correlation with
errors drawn from σ itself (and the truth's own noise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "COVERAGE_LEVELS",
    "error_ranking",
    "gaussian_coverage",
    "gaussian_interval",
    "oracle_ranking",
    "quantile_coverage",
    "z_score",
]

#: The interval probabilities every coverage table reports.
COVERAGE_LEVELS = (0.5, 0.8, 0.9, 0.95)


def z_score(level: float) -> float:
    """Half-width, in standard deviations, of the central normal interval of `level`.

    Examples
    --------
    >>> round(z_score(0.9), 3)
    1.645
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"an interval's probability must lie between 0 and 1 (got {level})")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def gaussian_interval(
    mmse: np.ndarray, sigma: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper bounds ``MMSE ∓ z·σ`` of the central `level` interval.

    Parameters
    ----------
    mmse, sigma : ndarray
        The posterior mean and standard deviation, same shape.
    level : float
        Probability of the interval, between 0 and 1 (0.9: the 90% interval).

    Returns
    -------
    tuple of ndarray
        ``(lower, upper)`` in the dtype of `mmse`, with ``lower ≤ mmse ≤ upper``.
    """
    half = np.asarray(sigma, dtype=np.float32) * np.float32(z_score(level))
    mmse = np.asarray(mmse)
    return (mmse - half).astype(mmse.dtype), (mmse + half).astype(mmse.dtype)


def _widened(sigma: np.ndarray, truth_stderr: np.ndarray | None) -> np.ndarray:
    sigma = np.asarray(sigma, dtype=np.float64)
    if truth_stderr is None:
        return sigma
    return np.sqrt(sigma**2 + np.asarray(truth_stderr, dtype=np.float64) ** 2)


def gaussian_coverage(
    truth: np.ndarray,
    mmse: np.ndarray,
    sigma: np.ndarray,
    levels: Sequence[float] = COVERAGE_LEVELS,
    *,
    truth_stderr: np.ndarray | None = None,
) -> dict[float, float]:
    """Fraction of pixels whose truth lies in ``MMSE ± z·σ``, per interval probability.

    Parameters
    ----------
    truth, mmse, sigma : ndarray
        Ground truth, posterior mean and posterior standard deviation, same shape.
    levels : sequence of float
        Interval probabilities.
    truth_stderr : ndarray, optional
        Standard error of the ground truth itself; added to σ in quadrature.

    Returns
    -------
    dict of float to float
        Observed coverage (0–1) per level.
    """
    error = np.abs(np.asarray(truth, dtype=np.float64) - np.asarray(mmse, dtype=np.float64))
    spread = _widened(sigma, truth_stderr)
    return {level: float(np.mean(error <= z_score(level) * spread)) for level in levels}


def quantile_coverage(
    truth: np.ndarray,
    samples: np.ndarray,
    levels: Sequence[float] = COVERAGE_LEVELS,
    *,
    truth_stderr: np.ndarray | None = None,
    scale: float = 1.0,
    seed: int = 0,
) -> dict[float, float]:
    """Fraction of pixels whose truth lies between the samples' empirical quantiles.

    Parameters
    ----------
    truth : ndarray
        Ground truth, shape ``S``.
    samples : ndarray
        Posterior samples, shape ``(n, *S)``.
    levels : sequence of float
        Interval probabilities: the ``(1 − level) / 2`` and ``(1 + level) / 2`` quantiles.
    truth_stderr : ndarray, optional
        Standard error of the ground truth; each sample is jittered by a normal draw of it.
    scale : float
        Spread the samples about their mean by this factor first (a calibration's scale).
    seed : int
        Seed of the jitter.

    Returns
    -------
    dict of float to float
        Observed coverage (0–1) per level.
    """
    samples = np.asarray(samples, dtype=np.float32)
    mean = samples.mean(axis=0)
    spread = mean + np.float32(scale) * (samples - mean)
    if truth_stderr is not None:
        rng = np.random.default_rng(seed)
        spread += rng.standard_normal(spread.shape, dtype=np.float32) * np.asarray(
            truth_stderr, dtype=np.float32
        )
    truth = np.asarray(truth, dtype=np.float32)
    tails = [(1 - level) / 2 for level in levels]
    # One sort for every level: the lower and upper quantiles of all of them at once.
    bounds = np.quantile(spread, [*tails, *(1 - tail for tail in tails)], axis=0)
    lowers, uppers = bounds[: len(tails)], bounds[len(tails) :]
    return {
        level: float(np.mean((truth >= lower) & (truth <= upper)))
        for level, lower, upper in zip(levels, lowers, uppers, strict=True)
    }


def error_ranking(sigma: np.ndarray, error: np.ndarray) -> float:
    """Spearman correlation between an uncertainty map and the absolute errors."""
    return float(stats.spearmanr(np.ravel(sigma), np.abs(np.ravel(error))).statistic)


def oracle_ranking(
    sigma: np.ndarray, *, truth_stderr: np.ndarray | None = None, seed: int = 0
) -> float:
    """Return the :func:`error_ranking` a perfect `sigma` would reach (errors drawn from it).

    Each pixel's error is drawn as ``|N(0, σ²) + N(0, truth_stderr²)|``, so the ceiling
    accounts for the ground truth's own noise.
    """
    rng = np.random.default_rng(seed)
    spread = _widened(sigma, truth_stderr)
    simulated = np.abs(spread * rng.standard_normal(np.shape(spread)))
    return error_ranking(sigma, simulated)
