"""(signal, observation) pixel pairs for fitting noise models, without big copies.

Calibration signals are often a read-only ``np.broadcast_to`` view (one mean image for
many frames), so nothing here flattens or copies the full arrays: statistics of the signal
are taken on its compact base, random batches are gathered by index, and full passes go
chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from ..validation import check_not_constant

#: Largest number of elements handled at once in full passes over the data.
CHUNK_ELEMENTS = 1 << 22
#: A camera records ``gain · photons + offset + read noise`` with photons ≥ 0 and offset ≥ 0:
#: a raw value lies 3 read-noise σ below zero only through the read noise's Gaussian tail,
#: for at most 0.13% of the pixels. More than 2% that far below zero (15 times as many)
#: means the clean signal itself is negative: an offset or a background was subtracted.
MAX_FAR_NEGATIVE_FRACTION = 0.02
FAR_NEGATIVE_STDS = 3.0


def compact(array: np.ndarray) -> np.ndarray:
    """Return the distinct elements of a broadcast view (axes of stride 0 cut to length 1).

    Every element of a broadcast view repeats equally often, so percentiles, minimum and
    maximum of the compact array equal those of the full view.
    """
    index = tuple(
        slice(0, 1) if stride == 0 and size > 1 else slice(None)
        for stride, size in zip(array.strides, array.shape, strict=True)
    )
    return array[index]


def iter_chunks(shape: tuple[int, ...]) -> Iterator[tuple[int | slice, ...]]:
    """Yield index tuples that cut an array of `shape` into chunks of leading-axis slabs."""
    inner = 1
    split = len(shape)
    while split > 0 and inner * shape[split - 1] <= CHUNK_ELEMENTS:
        split -= 1
        inner *= shape[split]
    if split == 0:
        yield (slice(None),)
        return
    step = max(1, CHUNK_ELEMENTS // inner)
    for outer in np.ndindex(*shape[: split - 1]):
        for start in range(0, shape[split - 1], step):
            yield (*outer, slice(start, start + step))


def validate_pairs(signal: np.ndarray, observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check that `signal` and `observation` can be fitted; return them as arrays (no copy).

    Raises
    ------
    InputError
        If either is not numeric, the shapes differ, there are fewer than 100 pairs, any
        value is NaN/inf, or either array is constant.
    """
    pairs = {"signal": np.asarray(signal), "observation": np.asarray(observation)}
    for name, array in pairs.items():
        if array.dtype == bool or not (
            np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        ):
            raise InputError(
                f"`{name}` must hold integer or floating-point intensities "
                f"(got dtype {array.dtype})"
            )
    signal, observation = pairs["signal"], pairs["observation"]
    if signal.shape != observation.shape:
        raise InputError(
            "`signal` and `observation` must have the same shape, one signal value per "
            f"observed pixel (got {signal.shape} and {observation.shape}); broadcast a "
            "calibration mean with np.broadcast_to(mean, frames.shape)"
        )
    if observation.size < 100:
        raise InputError(
            f"at least 100 (signal, observation) pairs are needed (got {observation.size})"
        )
    for name, array in (("signal", compact(signal)), ("observation", observation)):
        if np.issubdtype(array.dtype, np.floating):
            for index in iter_chunks(array.shape):
                if not np.isfinite(array[index]).all():
                    raise InputError(
                        f"`{name}` contains NaN or infinite values; replace or crop them "
                        "before fitting a noise model"
                    )
        check_not_constant(array, name=name)
    return signal, observation


def saturation_level(dtype: np.dtype, saturation: float | None) -> float | None:
    """Return the value at and above which an observation counts as saturated.

    `saturation` when given; otherwise the largest value of an integer dtype, and None
    for floating-point data (their scale says nothing of the camera's range).
    """
    if saturation is None and np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    return None if saturation is None else float(saturation)


def check_raw_intensities(image: np.ndarray, noise_std: float, *, name: str) -> None:
    """Refuse an image from which an offset or a background was subtracted.

    Photon-counting (Poisson–Gaussian) noise, and the bootstrap's inverse transform that
    never returns a signal below zero, need raw camera values. See
    :data:`MAX_FAR_NEGATIVE_FRACTION` for the rule.

    Parameters
    ----------
    image : ndarray
        The noisy image(s), in the units the noise model is to be fitted in.
    noise_std : float
        Noise standard deviation of the image's darkest regions: never below the read
        noise, so the count errs towards accepting the image.
    name : str
        How the image is called in the error.

    Raises
    ------
    InputError
        If more than 2% of the pixels lie more than 3 `noise_std` below zero.
    """
    values = np.asarray(image)
    limit = -FAR_NEGATIVE_STDS * noise_std
    lowest = float(values.min())
    if lowest >= limit:
        return
    far = np.count_nonzero(values < limit) / values.size
    if far > MAX_FAR_NEGATIVE_FRACTION:
        negative = np.count_nonzero(values < 0) / values.size
        raise InputError(
            f"{negative:.0%} of the pixels of {name} are negative (min {lowest:.4g}), "
            f"{far:.0%} by more than 3 times the noise of the darkest regions "
            f"({-limit:.3g}): the noise model needs raw camera intensities; add back the "
            "subtracted offset/background, or fit from calibration frames"
        )


def gather(array: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """Return ``array[index]``, read through a flat view of the compact base if possible.

    Several times faster for random pixels of a large stack than fancy indexing.
    """
    base = compact(array)
    if not base.flags.c_contiguous:
        return array[index]
    strides = np.cumprod((*base.shape[1:], 1)[::-1])[::-1]
    offset = np.zeros_like(index[0])
    for axis, (size, stride) in enumerate(zip(base.shape, strides, strict=True)):
        if size > 1:
            offset += index[axis] * stride
    return base.reshape(-1)[offset]


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
