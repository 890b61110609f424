"""(signal, observation) pixel pairs for fitting noise models, without big copies.

Calibration signals are often a read-only ``np.broadcast_to`` view (one mean image for
many frames), so nothing here flattens or copies the full arrays: statistics of the signal
are taken on its compact base, random batches are gathered by index, and full passes go
chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import check_not_constant

__all__ = [
    "NoisePairs",
    "check_raw_intensities",
    "compact",
    "gather",
    "iter_chunks",
    "saturation_level",
    "validate_pairs",
]

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


@dataclass(frozen=True)
class NoisePairs:
    """Signals and the noisy observations of them, to fit a noise model to.

    Attributes
    ----------
    signal : ndarray of float32, shape (N, T, Y, X)
        The (estimated) noise-free value of every observed pixel. From calibration it is
        a read-only broadcast view of each stack's mean (no copy per frame).
    observation : ndarray, shape (N, T, Y, X)
        The noisy pixel values, in the data's own dtype (integer camera counts keep
        their dtype, so a fit can recognise integer data and its saturation level).
    method : str
        How the signal was obtained: ``"calibration"``, ``"bootstrap"`` or ``"denoised"``.
    saturated : ndarray of bool, shape (N, 1, Y, X), or None
        Pixel locations saturated in at least one frame, to leave out of the fit (pass it
        to the fit's ``saturated``); None when not checked (float data, no level given).
    saturation : float or None
        The level at and above which a value counted as saturated.
    """

    signal: np.ndarray
    observation: np.ndarray
    method: str = "calibration"
    saturated: np.ndarray | None = None
    saturation: float | None = None

    def __post_init__(self) -> None:
        if self.signal.shape != self.observation.shape or self.signal.ndim != 4:
            raise InputError(
                "`signal` and `observation` must have the same 4D shape (N, T, Y, X) "
                f"(got {self.signal.shape} and {self.observation.shape})"
            )
        mask = self.saturated
        if mask is not None and not _broadcasts(mask.shape, self.observation.shape):
            raise InputError(
                f"`saturated` of shape {mask.shape} does not broadcast to the pairs' "
                f"shape {self.observation.shape}"
            )
        # Checked once, here: every function that receives pairs trusts them.
        validate_pairs(self.signal, self.observation)

    @property
    def n_pixels(self) -> int:
        """Number of (signal, observation) pairs."""
        return int(self.observation.size)

    @property
    def n_saturated(self) -> int | None:
        """Number of pixel locations left out as saturated (None: not checked)."""
        return None if self.saturated is None else int(np.count_nonzero(self.saturated))


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
