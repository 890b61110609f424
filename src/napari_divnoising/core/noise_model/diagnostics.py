"""Judge a noise model against data: binned variance agreement and held-out likelihood."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from .base import NoiseModel
from .pairs import NoisePairs, compact, gather, iter_chunks, validate_pairs

__all__ = [
    "DataEstimate",
    "VarianceCheck",
    "check_variance",
    "describe_disagreement",
    "estimate_from_pairs",
    "local_variance",
    "mean_negative_log_likelihood",
]

#: Values evaluated by the model at once (bounds the memory of its intermediates).
_PIECE = 1 << 20
#: Pairs kept to draw beside a model, and fewest pairs for a bin's variance to be shown.
_SHOWN_PAIRS = 500_000
_MIN_BIN_PAIRS = 50
#: Pixels the local-statistics check reads at most, and fewest in a bin for it to speak.
_LOCAL_PIXELS = 2_000_000
_MIN_LOCAL_PIXELS = 2_000
#: The model's variance is said to be above the images' when it exceeds it by this factor,
#: below it when it falls short by :data:`BELOW` (texture can only raise the images').
ABOVE = 1.25
BELOW = 1.5
#: Variance of ``x - mean(4 neighbours)`` over the noise variance, for independent noise.
_CROSS_GAIN = 1.25


@dataclass(frozen=True)
class VarianceCheck:
    """A noise model's variance curve next to the data's, in quantile bins of the signal.

    Attributes
    ----------
    edges : ndarray, shape (n_bins + 1,)
        Signal quantiles that bound the bins.
    signal : ndarray
        Mean signal of the pairs in each bin.
    count : ndarray
        Pairs in each bin.
    empirical : ndarray
        ``E[(x - s)**2]`` of the pairs in each bin.
    model : ndarray
        The model's ``Var[x|s]`` averaged over the signal values in each bin.
    """

    edges: np.ndarray
    signal: np.ndarray
    count: np.ndarray
    empirical: np.ndarray
    model: np.ndarray

    @property
    def relative_error(self) -> np.ndarray:
        """``model / empirical - 1`` per bin."""
        return self.model / self.empirical - 1.0


def check_variance(
    noise_model: NoiseModel,
    signal: np.ndarray,
    observation: np.ndarray,
    *,
    n_bins: int = 40,
) -> VarianceCheck:
    """Compare the model's variance with the spread of observations around the signal.

    Parameters
    ----------
    noise_model : NoiseModel
        The model to check.
    signal, observation : ndarray
        Pixel pairs, same shape; `signal` may be a ``np.broadcast_to`` view.
    n_bins : int
        Number of quantile bins of the signal.

    Returns
    -------
    VarianceCheck
        Per-bin empirical and model variances.
    """
    if n_bins < 1:
        raise SettingsError(f"`n_bins` must be ≥ 1 (got {n_bins})")
    signal, observation = validate_pairs(signal, observation)
    return _binned_variance(noise_model, signal, observation, n_bins)


def _binned_variance(
    noise_model: NoiseModel, signal: np.ndarray, observation: np.ndarray, n_bins: int
) -> VarianceCheck:
    """:func:`check_variance` of pairs that were checked already."""
    distinct = np.asarray(compact(signal), dtype=np.float64).ravel()
    edges = np.quantile(distinct, np.linspace(0.0, 1.0, n_bins + 1))

    def bin_of(values: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)

    count = np.zeros(n_bins)
    total_signal = np.zeros(n_bins)
    total_square = np.zeros(n_bins)
    for index in iter_chunks(observation.shape):
        s = np.asarray(signal[index], dtype=np.float64).ravel()
        x = np.asarray(observation[index], dtype=np.float64).ravel()
        bins = bin_of(s)
        count += np.bincount(bins, minlength=n_bins)
        total_signal += np.bincount(bins, weights=s, minlength=n_bins)
        total_square += np.bincount(bins, weights=(x - s) ** 2, minlength=n_bins)
    # The model's variance depends on the signal alone: evaluate it once per distinct value.
    model_total = np.zeros(n_bins)
    distinct_count = np.zeros(n_bins)
    for start in range(0, distinct.size, _PIECE):
        values = distinct[start : start + _PIECE]
        bins = bin_of(values)
        model_total += np.bincount(bins, weights=noise_model.variance(values), minlength=n_bins)
        distinct_count += np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return VarianceCheck(
            edges=edges,
            signal=total_signal / count,
            count=count,
            empirical=total_square / count,
            model=model_total / distinct_count,
        )


def mean_negative_log_likelihood(
    noise_model: NoiseModel, signal: np.ndarray, observation: np.ndarray
) -> float:
    """Mean ``-log p(x|s)`` per pixel (nats), for example on frames not used for fitting.

    Parameters
    ----------
    noise_model : NoiseModel
        The model to evaluate.
    signal, observation : ndarray
        Pixel pairs, same shape; `signal` may be a ``np.broadcast_to`` view.

    Returns
    -------
    float
        The average negative log density, in nats per pixel.
    """
    import torch

    signal, observation = validate_pairs(signal, observation)
    total = 0.0
    with torch.no_grad():
        for index in iter_chunks(observation.shape):
            s = torch.from_numpy(np.array(signal[index], dtype=np.float32).ravel())
            x = torch.from_numpy(np.array(observation[index], dtype=np.float32).ravel())
            for start in range(0, s.numel(), _PIECE):
                piece = slice(start, start + _PIECE)
                total -= float(noise_model.log_likelihood(x[piece], s[piece]).double().sum())
    return total / observation.size


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


def describe_disagreement(check: VarianceCheck) -> str:
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


@dataclass(frozen=True)
class DataEstimate:
    """The data's own view of its noise, to draw beside a fitted model.

    Attributes
    ----------
    signal, observation : ndarray of float32
        A random subset of the (signal, observation) pairs, flat.
    variance : VarianceCheck
        Data and model variance in quantile bins of the signal.
    local : VarianceCheck or None
        The variance the noisy images imply by their local statistics alone
        (:func:`local_variance`), which does not depend on the fitted pairs' signal.
    """

    signal: np.ndarray
    observation: np.ndarray
    variance: VarianceCheck
    local: VarianceCheck | None = None

    @property
    def disagreement(self) -> str:
        """Where the model and the images' local statistics disagree ("" if nowhere)."""
        return "" if self.local is None else describe_disagreement(self.local)

    @property
    def bin_signal(self) -> np.ndarray:
        """Mean signal of the bins that hold enough pairs to show."""
        return self.variance.signal[self.variance.count >= _MIN_BIN_PAIRS]

    @property
    def bin_variance(self) -> np.ndarray:
        """``E[(x - s)**2]`` of the same bins."""
        return self.variance.empirical[self.variance.count >= _MIN_BIN_PAIRS]


def estimate_from_pairs(
    noise_model: NoiseModel,
    pairs: NoisePairs,
    *,
    n_bins: int = 30,
    seed: int = 0,
) -> DataEstimate:
    """Subsample the pairs a model was fitted on and bin their variance by signal.

    Parameters
    ----------
    noise_model : NoiseModel
        The fitted model.
    pairs : NoisePairs
        Its pixel pairs (checked when they were made); the signal may be a broadcast view
        (it is not copied).
    n_bins : int
        Quantile bins of the signal.
    seed : int
        Seed of the subsample.

    Returns
    -------
    DataEstimate
        Pairs to draw, and the binned variance of data and model.
    """
    signal, observation = pairs.signal, pairs.observation
    rng = np.random.default_rng(seed)
    n_shown = min(observation.size, _SHOWN_PAIRS)
    flat = rng.choice(observation.size, n_shown, replace=False)
    index = np.unravel_index(flat, observation.shape)
    shown_signal = gather(signal, index).astype(np.float32)
    shown_observation = gather(observation, index).astype(np.float32)
    # Binned on the subsample: as exact as a plot needs, and quick on any stack.
    variance = _binned_variance(noise_model, shown_signal, shown_observation, n_bins)
    return DataEstimate(signal=shown_signal, observation=shown_observation, variance=variance)
