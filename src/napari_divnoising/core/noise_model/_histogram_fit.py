"""Fit a histogram noise model: stream all usable pairs into 2D counts."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from ..events import Progress
from .base import NoiseModel
from .histogram import HistogramNoiseModel, build_histogram
from .pair_sampler import PairSampler

#: Most histogram bins per axis when `bins` is not given.
MAX_AUTO_BINS = 256


def _histogram_edges(
    low: float, high: float, *, bins: int | None, integer_data: bool
) -> np.ndarray:
    """Uniform bin edges covering [low, high]; integer data get one value per bin or more."""
    if integer_data:
        low, high = math.floor(low) - 0.5, math.ceil(high) + 0.5
        if bins is None:
            values_per_bin = math.ceil((high - low) / MAX_AUTO_BINS)
            bins = math.ceil((high - low) / values_per_bin)
            return low + values_per_bin * np.arange(bins + 1, dtype=np.float64)
    else:
        high = high + 1e-6 * (high - low)
    return np.linspace(low, high, (bins or MAX_AUTO_BINS) + 1)


def fit_histogram(
    sampler: PairSampler, *, metadata: dict[str, Any]
) -> Generator[Progress, None, NoiseModel]:
    """Count all usable pairs into a row-normalised 2D histogram, yielding progress.

    Two passes over the data, chunk by chunk: the intensity range, then the counts.
    `metadata` holds the fit settings (``metadata["fit"]["bins"]`` may be None).
    """
    bins = metadata["fit"]["bins"]

    low, high = math.inf, -math.inf
    for number, (signal, observation) in enumerate(sampler.iter_usable(), start=1):
        if signal.size:
            low = min(low, signal.min(), observation.min())
            high = max(high, signal.max(), observation.max())
        yield Progress("measuring intensity range", number, sampler.n_chunks)
    edges = _histogram_edges(low, high, bins=bins, integer_data=sampler.integer_data)
    n_bins, width = edges.size - 1, edges[1] - edges[0]
    counts = np.zeros(n_bins * n_bins, dtype=np.float64)
    for number, (signal, observation) in enumerate(sampler.iter_usable(), start=1):
        rows = np.clip(((signal - edges[0]) / width).astype(np.int64), 0, n_bins - 1)
        columns = np.clip(((observation - edges[0]) / width).astype(np.int64), 0, n_bins - 1)
        counts += np.bincount(rows * n_bins + columns, minlength=n_bins * n_bins)
        yield Progress("building histogram", number, sampler.n_chunks)
    metadata["fit"].update(bins=n_bins, n_pairs=int(counts.sum()))
    return HistogramNoiseModel(
        build_histogram(counts.reshape(n_bins, n_bins), edges),
        min_signal=sampler.min_signal,
        max_signal=sampler.max_signal,
        metadata=metadata,
    )
