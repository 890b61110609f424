"""Calibration: (signal, observation) pairs from stacks of frames of a static sample.

The most faithful noise model comes from many frames of a sample that does not change:
the mean of the frames is the signal (its own noise is ``1/√T`` of a frame's) and every
frame is an observation of it. This is how the reference tools (PPN2V, DivNoising)
calibrate, and the pairs feed :func:`~napari_divnoising.core.noise_model.fit_noise_model`
(with ``saturated=pairs.saturated``: a pixel saturated in any frame has a biased mean, so
the whole location is left out, not only its saturated frames).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..validation import as_image_stack
from .pairs import NoisePairs, saturation_level

__all__ = ["MIN_CALIBRATION_FRAMES", "calibration_pairs", "find_saturated"]

# The signal is the mean of T frames; its own noise adds 1/T to the variance a noise
# model sees around it (and using the mean of frames that include the observation takes
# 1/T off). Ten frames keep that bias within 10% and the signal's noise at a third of a
# frame's; PPN2V/DivNoising calibrations use 100 frames or more.
MIN_CALIBRATION_FRAMES = 10
# A mean intensity change between the first and last quarter of the frames larger than
# this fraction of the image's contrast means the sample is not static (bleaching, drift).
_DRIFT_TOLERANCE = 0.15

StackLike = np.ndarray | str | os.PathLike


def _read(stack: StackLike, index: int, names: Sequence[str] | None) -> tuple[np.ndarray, str]:
    if isinstance(stack, (str, os.PathLike)):
        path = Path(stack)
        if not path.is_file():
            raise InputError(f"calibration file not found: {str(path)!r}")
        import tifffile

        try:
            return tifffile.imread(path), f"calibration file {path.name!r}"
        except (OSError, ValueError, tifffile.TiffFileError) as err:
            raise InputError(f"cannot read calibration file {str(path)!r} as TIFF: {err}") from err
    name = names[index] if names and index < len(names) else f"calibration stack {index}"
    try:
        return np.asarray(stack), name
    except ValueError as err:  # a ragged sequence of frames
        shapes = sorted({np.shape(frame) for frame in stack})
        raise InputError(
            f"the frames of {name} differ in shape ({', '.join(map(str, shapes))}); "
            "all frames must have the same (Y, X) size"
        ) from err


def _as_frames(array: np.ndarray, name: str, min_frames: int) -> np.ndarray:
    if array.ndim == 2:
        raise InputError(
            f"{name} is a single 2D image (shape {array.shape}); calibration needs a stack "
            f"(T, Y, X) of at least {min_frames} frames of a static sample"
        )
    if array.ndim != 3 and not (array.ndim == 4 and array.shape[-1] in (3, 4)):
        raise InputError(
            f"{name} must be a stack of frames (T, Y, X) (got shape {array.shape}); "
            "split other axes (channels, z) into separate stacks"
        )
    frames = as_image_stack(array, name=name)
    if frames.shape[0] < min_frames:
        raise InputError(
            f"{name} has {frames.shape[0]} frame(s); at least {min_frames} frames of the "
            "static sample are needed, because the signal is their mean and with fewer "
            "frames its own noise biases the noise model"
        )
    return frames


def _warn_if_not_static(frames: np.ndarray, name: str) -> None:
    quarter = max(len(frames) // 4, 1)
    mean = frames.mean(axis=0)
    first, last = float(frames[:quarter].mean()), float(frames[-quarter:].mean())
    contrast = float(mean.std())
    if contrast > 0 and abs(last - first) > _DRIFT_TOLERANCE * contrast:
        warnings.warn(
            f"{name} does not look static: its mean intensity goes from {first:.4g} in the "
            f"first frames to {last:.4g} in the last (the image's contrast is {contrast:.3g}); "
            "bleaching or drift inflates the calibrated noise — use fewer, earlier frames",
            UserWarning,
            stacklevel=3,
        )


def find_saturated(
    observation: np.ndarray, saturation: float | None = None, *, frames: bool = True
) -> tuple[np.ndarray | None, float | None]:
    """Find the pixel locations saturated in at least one frame, and say how many.

    Parameters
    ----------
    observation : ndarray, shape (N, T, Y, X)
        Frames (or one-frame stacks) of pixel values.
    saturation : float, optional
        The saturation level; by default the largest value of an integer dtype, and none
        for floating-point data (their scale says nothing of the camera's range).
    frames : bool
        Whether the stacks hold frames (the message says "in at least one frame").

    Returns
    -------
    mask : ndarray of bool, shape (N, 1, Y, X), or None
        True where a frame reaches the level: the mean (or a denoising) of such a pixel
        is biased. Made from one stack's maximum at a time, without a full-size mask.
    level : float or None
        The level used (None: not checked).

    Raises
    ------
    InputError
        If every pixel is saturated.

    Warns
    -----
    UserWarning
        If some pixels are saturated: how many, and that they are left out of the fit.
    """
    level = saturation_level(observation.dtype, saturation)
    if level is None:
        return None, None
    mask = np.zeros((observation.shape[0], 1, *observation.shape[2:]), dtype=bool)
    for index, stack in enumerate(observation):
        mask[index, 0] = stack.max(axis=0) >= level
    count, total = int(np.count_nonzero(mask)), mask.size
    where = " in at least one frame" if frames else ""
    if count == total:
        raise InputError(
            f"all {total:,} pixels are saturated (≥ {level:.6g}){where}: nothing is left "
            "to fit a noise model to; record with less light or a shorter exposure"
        )
    if count:
        warnings.warn(
            f"{count:,} of {total:,} pixels ({count / total:.1%}) are saturated "
            f"(≥ {level:.6g}){where} and are left out of the fit (their values are "
            "biased); lower the light or exposure if the model must cover those intensities",
            UserWarning,
            stacklevel=3,
        )
    return mask, level


def calibration_pairs(
    stacks: StackLike | Sequence[StackLike],
    *,
    min_frames: int = MIN_CALIBRATION_FRAMES,
    saturation: float | None = None,
    names: Sequence[str] | None = None,
) -> NoisePairs:
    """Make (signal, observation) pairs from stacks of frames of a static sample.

    Parameters
    ----------
    stacks : array_like, path, or sequence of them
        One stack ``(T, Y, X)`` of frames of a static sample, a sequence of such stacks
        (arrays or TIFF file paths), or an ``(N, T, Y, X)`` array of N stacks. All stacks
        must have the same shape. Raw camera units, as the images to denoise.
    min_frames : int
        Fewest frames a stack may have. The signal is the frames' mean, whose own
        noise is ``1/√T`` of a frame's: fewer than 10 frames bias the noise model by
        more than 10%.
    saturation : float, optional
        Values at and above it are saturated; by default the largest value of an integer
        dtype (none for floating-point data). See :func:`find_saturated`.
    names : sequence of str, optional
        What messages call the stacks (a layer's name); default "calibration stack N".

    Returns
    -------
    NoisePairs
        ``observation``: the frames ``(N, T, Y, X)`` in their own dtype (read-only; a
        view of a single input array); ``signal``: each stack's float32 mean, a read-only
        broadcast view of the same shape; ``saturated``: the pixel locations saturated
        in at least one frame, to leave out of the fit.

    Raises
    ------
    InputError
        If a stack is 2D, RGB, has fewer than `min_frames` frames, NaN/inf values, is
        constant, cannot be read, or the stacks differ in shape, or every pixel is
        saturated.
    ValueError
        If `min_frames` < 2 or no stack is given.

    Warns
    -----
    UserWarning
        If a stack's mean intensity drifts over the frames (bleaching, focus drift), or
        pixels are saturated (how many; they are left out of the fit).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.poisson(np.linspace(1, 50, 32)[None, None, :] * np.ones((20, 32, 1)))
    >>> pairs = calibration_pairs(frames)
    >>> pairs.signal.shape == pairs.observation.shape == (1, 20, 32, 32)
    True
    """
    if min_frames < 2:
        raise InputError(f"`min_frames` must be ≥ 2 (got {min_frames})")
    if isinstance(stacks, (str, os.PathLike)):
        items: list[StackLike] = [stacks]
    elif isinstance(stacks, np.ndarray):
        items = list(stacks) if stacks.ndim == 4 and stacks.shape[-1] not in (3, 4) else [stacks]
    else:
        items = list(stacks)
    if not items:
        raise InputError("`stacks` is empty; give at least one stack of calibration frames")
    kept: list[np.ndarray] = []
    mean = None
    for index, item in enumerate(items):
        array, name = _read(item, index, names)
        frames = _as_frames(array, name, min_frames)
        if mean is None:
            mean = np.empty((len(items), 1, *frames.shape[1:]), dtype=np.float32)
        elif array.shape != kept[0].shape:
            raise InputError(
                f"all calibration stacks must have the same shape (T, Y, X); {name} is "
                f"{array.shape}, the first is {kept[0].shape} — crop them alike"
            )
        _warn_if_not_static(frames, name)
        mean[index, 0] = frames.mean(axis=0, dtype=np.float64)
        kept.append(array)
    assert mean is not None
    # One stack: a view of it, no copy of the frames.
    observation = kept[0][None] if len(kept) == 1 else np.stack(kept)
    observation.flags.writeable = False
    signal = np.broadcast_to(mean, observation.shape)  # read-only view, no copy per frame
    saturated, level = find_saturated(observation, saturation)
    return NoisePairs(signal, observation, "calibration", saturated, level)
