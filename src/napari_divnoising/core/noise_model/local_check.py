"""The noise the noisy images imply by themselves, to check a model fitted to another signal.

A model fitted to (signal, observation) pairs sits on the variance of those pairs by
construction, also when their signal was wrong (a bootstrap's BM3D estimate that smoothed away
detail). :func:`local_variance` estimates the variance from the noisy images' local statistics
alone, and :func:`describe_disagreement` says where model and images part.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..errors import SettingsError
from .base import NoiseModel
from .diagnostics import VarianceCheck

__all__ = ["ABOVE", "BELOW", "describe_disagreement", "local_variance"]

#: Pixels the local-statistics check reads at most, and fewest in a bin for it to speak.
_LOCAL_PIXELS = 2_000_000
_MIN_LOCAL_PIXELS = 2_000
#: The model's variance is said to be above the images' when it exceeds it by this factor,
#: below it when it falls short by :data:`BELOW` (texture can only raise the images').
ABOVE = 1.25
BELOW = 1.5
#: Variance of ``x - mean(4 neighbours)`` over the noise variance, for independent noise.
_CROSS_GAIN = 1.25


def local_variance(
    noise_model: NoiseModel,
    images: np.ndarray | Sequence[np.ndarray],
    *,
    n_bins: int = 20,
    seed: int = 0,
) -> VarianceCheck:
    """Return the noise variance the noisy images imply by themselves, binned by signal.

    Independent of the signal a model was fitted to (calibration means, a bootstrap's
    BM3D estimate), so it can disagree with the model where that signal was wrong. For
    every pixel, three estimates from disjoint sets of pixels, so that their noises are
    independent:

    - the residual of the pixel against the mean of its 4 edge neighbours, whose variance
      is 1.25× the noise variance where the signal is locally flat;
    - the mean of its 4 diagonal neighbours, which picks the pixel's bin, and their
      differences, which say how flat the neighbourhood is (the flatter half of each bin
      is kept, so that edges and texture inflate the residual less);
    - the mean of the 16 pixels at distance 2, where the model's variance is evaluated: a
      bin chosen by one noisy estimate holds pixels whose true signal regressed towards
      the mean, which an independent estimate follows and the choosing one does not.

    The plain variance of the residual holds for any noise distribution (Poisson at a few
    counts as much as Gaussian). What is left of texture can only raise it: the data's
    variance errs upwards on bright structure. Assumes noise independent from pixel to
    pixel, as the noise model does.

    Parameters
    ----------
    noise_model : NoiseModel
        The model whose variance to put beside the data's.
    images : ndarray or sequence of ndarray, each shape (..., Y, X)
        Noisy planes in raw units (at least 5×5 pixels); images may differ in size.
    n_bins : int
        Quantile bins of the signal.
    seed : int
        Seed of the subsample of planes (about two million pixels are read).

    Returns
    -------
    VarianceCheck
        ``empirical`` is the data's variance per bin, ``model`` the model's, ``signal``
        the bin's mean signal.
    """
    if n_bins < 1:
        raise SettingsError(f"`n_bins` must be ≥ 1 (got {n_bins})")
    stacks = [images] if isinstance(images, np.ndarray) else list(images)
    rng = np.random.default_rng(seed)
    share = _LOCAL_PIXELS // max(1, len(stacks))
    parts = [_neighbourhoods(stack, rng, share) for stack in stacks] or [(np.empty(0),) * 4]
    columns = zip(*parts, strict=True)
    residual, chooser, flatness, signal = (np.concatenate(column) for column in columns)
    if signal.size == 0:
        raise SettingsError("the images hold no finite 5×5 neighbourhood to check the noise on")
    edges = np.unique(np.quantile(chooser, np.linspace(0.0, 1.0, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, chooser, side="right") - 1, 0, len(edges) - 2)
    order = np.argsort(bins, kind="stable")
    starts = np.searchsorted(bins[order], np.arange(len(edges)))
    count, mean_signal, empirical, model = [], [], [], []
    for low, high in itertools.pairwise(starts):
        members = order[low:high]
        if members.size:
            members = members[flatness[members] <= np.median(flatness[members])]
        count.append(members.size)
        if members.size < 2:
            mean_signal.append(np.nan)
            empirical.append(np.nan)
            model.append(np.nan)
            continue
        inside = np.clip(signal[members], noise_model.min_signal, noise_model.max_signal)
        mean_signal.append(signal[members].mean())
        empirical.append(residual[members].var() / _CROSS_GAIN)
        model.append(np.mean(noise_model.variance(inside)))
    return VarianceCheck(
        edges=edges,
        signal=np.asarray(mean_signal),
        count=np.asarray(count, dtype=float),
        empirical=np.asarray(empirical),
        model=np.asarray(model),
    )


def _neighbourhoods(
    stack: np.ndarray, rng: np.random.Generator, at_most: int
) -> tuple[np.ndarray, ...]:
    """Residual, bin chooser, flatness and signal of every pixel of some planes (flat)."""
    planes = np.asarray(stack).reshape(-1, *np.shape(stack)[-2:])
    height, width = planes.shape[-2:]
    if min(height, width) < 5:
        return (np.empty(0),) * 4
    count = min(len(planes), max(1, at_most // planes[0].size))
    x = planes[np.sort(rng.choice(len(planes), count, replace=False))].astype(np.float64)

    def shifted(dy: int, dx: int) -> np.ndarray:
        return x[:, 2 + dy : height - 2 + dy, 2 + dx : width - 2 + dx]

    cross = (shifted(-1, 0) + shifted(1, 0) + shifted(0, -1) + shifted(0, 1)) / 4.0
    corners = shifted(-1, -1), shifted(-1, 1), shifted(1, 1), shifted(1, -1)
    ring = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if max(abs(dy), abs(dx)) == 2]
    columns = (
        shifted(0, 0) - cross,
        sum(corners) / 4.0,
        np.abs(corners[0] - corners[2]) + np.abs(corners[1] - corners[3]),
        sum(shifted(dy, dx) for dy, dx in ring) / len(ring),
    )
    flat = [column.ravel() for column in columns]
    finite = np.logical_and.reduce([np.isfinite(column) for column in flat])
    return tuple(column[finite] for column in flat)


def describe_disagreement(check: VarianceCheck | None) -> str:
    """Say where a model's variance and the images' own differ too much ("" if nowhere).

    The model is said to be above the data when it exceeds the data's variance by more
    than :data:`ABOVE`; below it only beyond :data:`BELOW`, as texture the local check
    cannot remove raises the data's variance. Only bins with enough pixels speak.

    Examples
    --------
    >>> check = VarianceCheck(np.array([0.0, 1, 2]), np.array([10.0, 20.0]),
    ...     np.array([1e4, 1e4]), np.array([5.0, 10.0]), np.array([5.2, 14.0]))
    >>> print(describe_disagreement(check))
    the model's noise variance is 40% above what the images' local statistics imply at signals 20
    """
    if check is None:  # no images to check against (pooled pairs of several sizes)
        return ""
    speaks = (check.count >= _MIN_LOCAL_PIXELS) & (check.empirical > 0) & (check.model > 0)
    ratio = np.where(speaks, check.model / np.where(speaks, check.empirical, 1.0), 1.0)
    above, below = ratio > ABOVE, ratio < 1.0 / BELOW
    off = above if above.any() else below
    if not off.any():
        return ""
    where = check.signal[off]
    span = f"{where.min():.4g}" if where.size == 1 else f"{where.min():.4g}–{where.max():.4g}"
    if above.any():
        amount, direction = f"{ratio[off].max() - 1.0:.0%}", "above"
    else:
        amount, direction = f"{1.0 - ratio[off].min():.0%}", "below"
    return (
        f"the model's noise variance is {amount} {direction} what the images' local "
        f"statistics imply at signals {span}"
    )
