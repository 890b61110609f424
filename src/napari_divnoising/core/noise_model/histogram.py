"""Histogram noise model: a row-normalised 2D histogram of (signal, observation) pairs.

The array layout is that of juglab/PPN2V ``histNoiseModel.createHistogram``: shape
``(3, bins, bins)``; ``[0]`` holds the counts with each populated signal row normalised to
sum to 1 (row = signal bin, column = observation bin); ``[1]`` and ``[2]`` hold the lower
and upper bin edges (the same edges serve both axes).

Differences from the reference likelihood, on purpose:

* it returns a **density** (probability mass / bin width), so negative log-likelihoods
  compare directly with those of the Gaussian mixture, which is a density too;
* it interpolates linearly between the *centres* of neighbouring signal rows (the
  reference interpolates between their lower edges), and empty signal rows inside the
  fitted range are filled in from their populated neighbours, so ``p(x|s)`` is smooth and
  differentiable in ``s``;
* the density is offset by ``1e-10``, as in the reference, so its log is always finite
  (the mixture needs no offset: it is computed in log space).

As a density it is uniform inside each observation bin: its variance includes the bin's
``width**2 / 12`` and its samples are spread uniformly within the drawn bin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SettingsError
from ._file_format import METADATA_KEY, encode_metadata, resolve_suffix, write_atomically
from .base import NoiseModel

__all__ = ["HistogramNoiseModel", "build_histogram"]

_TOL = 1e-10
#: Added to every bin before normalising, as the reference does, so no bin is exactly 0.
_EMPTY_BIN = 1e-30


def build_histogram(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Turn 2D pair counts into the reference ``(3, bins, bins)`` histogram array.

    Parameters
    ----------
    counts : ndarray, shape (bins, bins)
        Number of pairs per (signal bin, observation bin).
    edges : ndarray, shape (bins + 1,)
        The bin edges shared by both axes.

    Returns
    -------
    ndarray of float64, shape (3, bins, bins)
        Row-normalised probabilities, lower edges and upper edges.
    """
    bins = counts.shape[0]
    histogram = np.zeros((3, bins, bins))
    histogram[0] = counts + _EMPTY_BIN
    sums = histogram[0].sum(axis=1, keepdims=True)
    populated = sums[:, 0] > 1e-20
    histogram[0, populated] /= sums[populated]
    # Same layout as the reference: the edge arrays vary along the first axis.
    histogram[1] = np.asarray(edges[:-1], dtype=np.float64)[:, None]
    histogram[2] = np.asarray(edges[1:], dtype=np.float64)[:, None]
    return histogram


def _fill_empty_rows(table: np.ndarray, populated: np.ndarray) -> np.ndarray:
    """Replace unpopulated rows by linear interpolation between their populated neighbours."""
    rows = np.flatnonzero(populated)
    position = np.interp(np.arange(table.shape[0]), rows, np.arange(rows.size))
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, rows.size - 1)
    frac = (position - low)[:, None]
    return (1 - frac) * table[rows[low]] + frac * table[rows[high]]


class HistogramNoiseModel(NoiseModel):
    """Non-parametric p(x|s) from a 2D histogram, interpolated along the signal axis.

    Parameters
    ----------
    histogram : ndarray, shape (3, bins, bins)
        The reference layout (see the module docstring).
    min_signal, max_signal : float, optional
        The fitted signal range; by default the edges of the first and last populated
        signal rows.
    metadata : dict, optional
        JSON-serialisable facts about the model, saved with it (in `.npz` files).
    """

    kind = "histogram"

    def __init__(
        self,
        histogram: np.ndarray,
        *,
        min_signal: float | None = None,
        max_signal: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        histogram = np.array(histogram, dtype=np.float64)
        if (
            histogram.ndim != 3
            or histogram.shape[0] != 3
            or histogram.shape[1] != histogram.shape[2]
        ):
            raise SettingsError(
                "a histogram noise model must have shape (3, bins, bins) "
                f"(got shape {histogram.shape})"
            )
        bins = histogram.shape[1]
        if bins < 2 or not np.isfinite(histogram).all() or (histogram[0] < 0).any():
            raise SettingsError(
                "a histogram noise model needs at least 2 bins and finite, non-negative "
                f"probabilities (got {bins} bins)"
            )
        low, high = float(histogram[1].min()), float(histogram[2].max())
        if not low < high:
            raise SettingsError(f"histogram bin edges must increase (got {low} to {high})")
        populated = histogram[0].sum(axis=1) > 0.5
        if not populated.any():
            raise SettingsError("the histogram has no populated signal row (all rows are empty)")
        self.histogram = histogram
        self.bins = bins
        self.low, self.width = low, (high - low) / bins
        rows = np.flatnonzero(populated)
        super().__init__(
            min_signal=low + rows[0] * self.width if min_signal is None else min_signal,
            max_signal=low + (rows[-1] + 1) * self.width if max_signal is None else max_signal,
            metadata=metadata,
        )
        self._probabilities = _fill_empty_rows(histogram[0], populated)
        self._table = torch.as_tensor(self._probabilities, dtype=torch.float32)

    def to(self, device: torch.device | str) -> HistogramNoiseModel:
        """Move the probability table to `device` and return the model itself."""
        self._table = self._table.to(device)
        return self

    def _row_position(self, signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower interpolation row and fraction for each signal (row centres as nodes)."""
        position = torch.clamp((signal - self.low) / self.width - 0.5, 0.0, self.bins - 1.0)
        row = torch.clamp(torch.floor(position), max=self.bins - 2).long()
        return row, position - row

    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log(mass / bin width + 1e-10)``, interpolated along the signal.

        Parameters
        ----------
        observation : torch.Tensor
            Observed pixel values in raw intensity units (clamped into the histogram).
        signal : torch.Tensor
            Signal values; broadcast against `observation`.

        Returns
        -------
        torch.Tensor
            float32 log densities with the broadcast shape, differentiable in `signal`.
        """
        signal = torch.as_tensor(signal).float()
        observation = torch.as_tensor(observation, device=signal.device).float()
        signal, observation = torch.broadcast_tensors(signal, observation)
        table = (
            self._table if self._table.device == signal.device else self._table.to(signal.device)
        )
        column = torch.clamp(torch.floor((observation - self.low) / self.width), 0, self.bins - 1)
        row, frac = self._row_position(signal)
        flat = table.reshape(-1)
        column = column.long()
        mass = (1 - frac) * flat[row * self.bins + column] + frac * flat[
            (row + 1) * self.bins + column
        ]
        return torch.log(mass / self.width + _TOL)

    def _rows_at(self, signal: np.ndarray) -> np.ndarray:
        """Return the interpolated observation distribution (bins,) for each signal value."""
        row, frac = self._row_position(torch.tensor(np.asarray(signal, dtype=np.float64)))
        row, frac = row.numpy(), frac.numpy()[..., None]
        return (1 - frac) * self._probabilities[row] + frac * self._probabilities[row + 1]

    def _centres(self) -> np.ndarray:
        return self.low + (np.arange(self.bins) + 0.5) * self.width

    def mean(self, signal: np.ndarray) -> np.ndarray:
        """Return E[x|s] of the interpolated histogram rows, as float64."""
        rows = self._rows_at(signal)
        return (rows * self._centres()).sum(axis=-1) / rows.sum(axis=-1)

    def variance(self, signal: np.ndarray) -> np.ndarray:
        """Return Var[x|s], including each bin's ``width**2 / 12``, as float64.

        Parameters
        ----------
        signal : ndarray
            Signal values in raw intensity units.

        Returns
        -------
        ndarray of float64
            The variance of the piecewise-constant density, with the shape of `signal`.
        """
        rows = self._rows_at(signal)
        rows = rows / rows.sum(axis=-1, keepdims=True)
        mean = (rows * self._centres()).sum(axis=-1, keepdims=True)
        spread = (rows * (self._centres() - mean) ** 2).sum(axis=-1)
        return spread + self.width**2 / 12

    def sample_observation(self, signal: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Draw one observation per signal value: a bin by its mass, then uniformly in it.

        Parameters
        ----------
        signal : ndarray
            Signal values in raw intensity units.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        ndarray of float64
            Noisy observations with the shape of `signal`.
        """
        cumulative = np.cumsum(self._rows_at(signal), axis=-1)
        draw = rng.random(np.shape(signal))[..., None] * cumulative[..., -1:]
        column = np.minimum((draw > cumulative).sum(axis=-1), self.bins - 1)
        return self.low + (column + rng.random(np.shape(signal))) * self.width

    def save(self, path: str | Path) -> Path:
        """Write the model atomically as `.npz` (with metadata) or plain reference `.npy`.

        A `.npy` file holds only the ``(3, bins, bins)`` array that the reference tools
        read; the metadata and the exact fitted signal range are lost (the range is then
        taken from the populated rows). A `.npz` file keeps them.

        Parameters
        ----------
        path : str or Path
            Destination ending in ``.npz`` or ``.npy``; ``.npz`` is appended when the name
            has no suffix.

        Returns
        -------
        Path
            The file written.
        """
        path = resolve_suffix(path, allowed=(".npz", ".npy"), default=".npz")
        if path.suffix.lower() == ".npy":
            return write_atomically(path, lambda file: np.save(file, self.histogram))
        arrays = {
            "histogram": self.histogram,
            "min_signal": np.array([self.min_signal], dtype=np.float64),
            "max_signal": np.array([self.max_signal], dtype=np.float64),
            METADATA_KEY: encode_metadata(self.metadata),
        }
        return write_atomically(path, lambda file: np.savez(file, **arrays))
