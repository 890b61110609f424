"""Random batches of (signal, observation) pairs for a noise-model fit, without big copies."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from .pairs import compact, gather, iter_chunks, saturation_level

__all__ = ["PairSampler"]


class PairSampler:
    """Draw random (signal, observation) pairs, leaving out unusable pixels.

    Pixels are left out when the observation is saturated (``>= saturation``), their
    location is marked `saturated`, or the signal lies outside the
    ``[lower_percentile, upper_percentile]`` range of the signal (of the locations kept).

    Parameters
    ----------
    signal, observation : ndarray
        Validated arrays of the same shape (see :func:`validate_pairs`).
    lower_percentile, upper_percentile : float
        Signal percentiles (0-100) that bound the used signal range.
    saturation : float or None
        Observations at or above this value are left out; by default the maximum of an
        integer dtype (nothing for floating-point data).
    rng : numpy.random.Generator
        Source of randomness for the batches.
    saturated : ndarray of bool, optional
        Pixel locations left out whole, in every frame, and from the signal range (see
        :func:`.calibration.find_saturated`); broadcastable to `observation`'s shape.
    """

    def __init__(
        self,
        signal: np.ndarray,
        observation: np.ndarray,
        *,
        lower_percentile: float,
        upper_percentile: float,
        saturation: float | None,
        rng: np.random.Generator,
        saturated: np.ndarray | None = None,
    ) -> None:
        self.signal, self.observation = signal, observation
        self.saturation = saturation_level(observation.dtype, saturation)
        #: Pixel locations left out as saturated (None: not checked).
        self.n_saturated = None if saturated is None else int(np.count_nonzero(saturated))
        self._left_out = None
        values = compact(signal)
        if self.n_saturated:
            self._left_out = np.broadcast_to(saturated, observation.shape)
            values, left_out = np.broadcast_arrays(values, compact(self._left_out))
            values = values[~left_out]
            if values.size == 0:
                raise InputError(
                    "no usable (signal, observation) pairs: every pixel is saturated "
                    f"(≥ {self.saturation}) in at least one frame"
                )
        low, high = np.percentile(values, [lower_percentile, upper_percentile])
        self.min_signal, self.max_signal = float(low), float(high)
        if not self.min_signal < self.max_signal:
            raise InputError(
                f"the signal between the {lower_percentile}th and {upper_percentile}th "
                f"percentiles is constant ({self.min_signal:.6g}); widen the percentile range"
            )
        self._rng = rng
        probe_signal, probe_observation = self._gather(65536)
        self.acceptance = probe_signal.size / 65536
        if probe_signal.size == 0:
            raise InputError(
                "no usable (signal, observation) pairs: every sampled observation is "
                f"saturated (≥ {self.saturation}) or its signal lies outside "
                f"[{self.min_signal:.6g}, {self.max_signal:.6g}]"
            )
        #: Whole-number counts (an integer dtype, or floats that all look like one).
        self.integer_data = bool(
            np.issubdtype(observation.dtype, np.integer)
            or np.array_equal(probe_observation, np.round(probe_observation))
        )

    def usable(
        self, signal: np.ndarray, observation: np.ndarray, left_out: np.ndarray | None = None
    ) -> np.ndarray:
        """Boolean mask of the pairs that take part in the fit (`left_out`: saturated)."""
        keep = (signal >= self.min_signal) & (signal <= self.max_signal)
        if self.saturation is not None:
            keep &= observation < self.saturation
        if left_out is not None:
            keep &= ~left_out
        return keep

    def _gather(self, n_draws: int) -> tuple[np.ndarray, np.ndarray]:
        flat = self._rng.integers(0, self.observation.size, size=n_draws)
        index = np.unravel_index(flat, self.observation.shape)
        signal = gather(self.signal, index).astype(np.float32)
        observation = gather(self.observation, index).astype(np.float32)
        left_out = None if self._left_out is None else gather(self._left_out, index)
        keep = self.usable(signal, observation, left_out)
        return signal[keep], observation[keep]

    def draw(self, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
        """Return `n_pairs` usable pairs drawn uniformly with replacement (float32)."""
        parts_s, parts_x, total = [], [], 0
        while total < n_pairs:
            # Over-draw by the measured acceptance so one round is almost always enough.
            n_draws = int((n_pairs - total) / self.acceptance * 1.05) + 64
            signal, observation = self._gather(n_draws)
            parts_s.append(signal)
            parts_x.append(observation)
            total += signal.size
        return np.concatenate(parts_s)[:n_pairs], np.concatenate(parts_x)[:n_pairs]

    @property
    def n_chunks(self) -> int:
        """Number of chunks :meth:`iter_usable` yields."""
        return sum(1 for _ in iter_chunks(self.observation.shape))

    def iter_usable(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield every usable pair (float64), chunk by chunk (see :attr:`n_chunks`)."""
        for index in iter_chunks(self.observation.shape):
            signal = np.asarray(self.signal[index], dtype=np.float64).ravel()
            observation = np.asarray(self.observation[index], dtype=np.float64).ravel()
            left_out = None if self._left_out is None else self._left_out[index].ravel()
            keep = self.usable(signal, observation, left_out)
            yield signal[keep], observation[keep]
