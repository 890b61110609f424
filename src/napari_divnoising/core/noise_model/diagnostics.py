"""Judge a noise model against data: binned variance agreement and held-out likelihood."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from .base import NoiseModel
from .pairs import NoisePairs, compact, gather, iter_chunks, validate_pairs

__all__ = [
    "DataEstimate",
    "VarianceCheck",
    "check_variance",
    "estimate_from_pairs",
    "mean_negative_log_likelihood",
]

#: Values evaluated by the model at once (bounds the memory of its intermediates).
_PIECE = 1 << 20
#: Pairs kept to draw beside a model, and fewest pairs for a bin's variance to be shown.
_SHOWN_PAIRS = 500_000
_MIN_BIN_PAIRS = 50


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
        (:func:`~.local_check.local_variance`), which does not depend on the fitted pairs' signal.
    """

    signal: np.ndarray
    observation: np.ndarray
    variance: VarianceCheck
    local: VarianceCheck | None = None

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
