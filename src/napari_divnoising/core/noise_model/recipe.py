"""Step 1's one recipe: make a noise model from calibration frames or from the noisy images.

The Noise model dock, ``divnoising fit-noise-model``, the demo and the scripting API all
call :func:`iter_make_noise_model`, so the same data and seed give the same model
everywhere. Three sources of the signal:

``"calibration"``
    Many frames of a static sample; the signal is their mean.
``"bootstrap"``
    The noisy images themselves; the signal is a blind-spot VST-BM3D pseudo ground truth
    (see :mod:`.bootstrap`), whose extremes are left out of the fit.
``"denoised"``
    The noisy images and any denoised version of them that the user trusts (another
    denoiser's output); treated as a pseudo ground truth, like the bootstrap's.

Every source leaves out the pixels saturated in any frame (the signal there is biased),
and the pseudo ground truths refuse images from which an offset was subtracted.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ..errors import InputError, SettingsError
from ..events import Progress, blocking
from ..validation import as_image_stack, check_same_shape
from .base import NoiseModel
from .bootstrap import MIN_BOOTSTRAP_SIZE, PASSES_PER_PLANE, iter_bootstrap
from .calibration import calibration_pairs, find_saturated
from .diagnostics import DataEstimate, estimate_from_pairs
from .fitting import iter_fit_pairs, resolve_settings
from .local_check import local_variance
from .pairs import NoisePairs, check_raw_intensities
from .settings import NoiseModelSettings

__all__ = [
    "SOURCES",
    "NoiseModelResult",
    "bootstrap_subset",
    "iter_make_noise_model",
    "make_noise_model",
]

Source = Literal["calibration", "bootstrap", "denoised"]
SOURCES: tuple[str, ...] = ("calibration", "bootstrap", "denoised")


@dataclass(frozen=True)
class NoiseModelResult:
    """A noise model and what it was made from.

    Attributes
    ----------
    noise_model : NoiseModel
        The fitted model (its metadata records the settings and the source).
    pairs : NoisePairs
        The (signal, observation) pairs it was fitted to.
    data : DataEstimate
        The data's own noise beside the model's, for plots and checks.
    pseudo_ground_truth : list of ndarray or None
        The bootstrap's denoised images (one per input image), or None.
    """

    noise_model: NoiseModel
    pairs: NoisePairs
    data: DataEstimate
    pseudo_ground_truth: list[np.ndarray] | None = None


def _as_list(images: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        return [images]
    return [np.asarray(image) for image in images]


def _pooled(pairs: list[NoisePairs], method: str) -> NoisePairs:
    """One set of pairs from several images that may differ in size."""
    if len(pairs) == 1:
        return pairs[0]
    signal = np.concatenate([p.signal.reshape(-1) for p in pairs])
    observation = np.concatenate([p.observation.reshape(-1) for p in pairs])
    saturated = None
    if any(p.saturated is not None for p in pairs):  # one-frame pairs: a mask per pixel
        masks = [np.zeros(p.n_pixels, bool) if p.saturated is None else p.saturated for p in pairs]
        saturated = np.concatenate([mask.reshape(-1) for mask in masks])[None, None, None]
    levels = {p.saturation for p in pairs} - {None}
    level = levels.pop() if len(levels) == 1 else None
    return NoisePairs(
        signal[None, None, None], observation[None, None, None], method, saturated, level
    )


def _dark_residual_std(signal: np.ndarray, observation: np.ndarray) -> float:
    """Robust σ of the noise where the denoised signal is darkest (its lowest tenth)."""
    dark = signal <= np.percentile(signal, 10)
    residual = observation[dark].astype(np.float64) - signal[dark]
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def _denoised_pairs(
    images: list[np.ndarray], denoised: list[np.ndarray], saturation: float | None
) -> NoisePairs:
    if len(images) != len(denoised):
        raise InputError(
            f"give one denoised image per noisy image (got {len(denoised)} for {len(images)})"
        )
    pairs = []
    for image, clean in zip(images, denoised, strict=True):
        check_same_shape(image, clean, names=("noisy image", "denoised image"))
        signal = as_image_stack(clean, name="denoised image")
        observation = np.asarray(image).reshape(signal.shape)
        as_image_stack(observation, name="noisy image")  # the same checks, raised early
        if observation.min() < 0:  # only then can an offset have been subtracted
            noise = _dark_residual_std(signal, observation)
            check_raw_intensities(observation, noise, name="the noisy image")
        saturated, level = find_saturated(observation[:, None], saturation, frames=False)
        pairs.append(
            NoisePairs(signal[:, None], observation[:, None], "denoised", saturated, level)
        )
    return _pooled(pairs, "denoised")


def bootstrap_subset(image: np.ndarray, fraction: float) -> np.ndarray:
    """Return `fraction` of the planes of `image` (at least one, evenly spread), as a stack.

    The whole `image`, unchanged, when `fraction` is 1; the planes keep their dtype.

    Examples
    --------
    >>> stack = np.random.default_rng(0).poisson(20.0, (10, 16, 16))
    >>> bootstrap_subset(stack, 0.3).shape
    (3, 16, 16)
    """
    planes = as_image_stack(image, name="noisy image", min_size=MIN_BOOTSTRAP_SIZE)
    if fraction >= 1.0:
        return image
    # The planes in their own dtype: an integer camera's saturation is recognised by it.
    stack = np.asarray(image).reshape(planes.shape)
    count = max(1, round(len(stack) * fraction))
    return stack[np.linspace(0, len(stack) - 1, count).round().astype(int)]


def _bootstrap(
    images: list[np.ndarray], saturation: float | None
) -> Generator[Progress, None, tuple[NoisePairs, list[np.ndarray]]]:
    """Bootstrap every image; one progress bar over all their BM3D passes."""
    total = PASSES_PER_PLANE * sum(
        (image.size // image.shape[-1] // image.shape[-2]) for image in images
    )
    done, pairs, signals = 0, [], []
    for image in images:
        job = iter_bootstrap(image, saturation=saturation)
        while True:
            try:
                event = next(job)
            except StopIteration as stop:
                result = stop.value
                break
            yield Progress(event.stage, done + event.step, total)
        done += PASSES_PER_PLANE * len(result.pairs.signal)
        pairs.append(result.pairs)
        signals.append(result.signal)
    return _pooled(pairs, "bootstrap"), signals


def iter_make_noise_model(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    source: Source = "calibration",
    denoised: np.ndarray | Sequence[np.ndarray] | None = None,
    settings: NoiseModelSettings | None = None,
    subset: float = 1.0,
    names: Sequence[str] | None = None,
) -> Generator[Progress, None, NoiseModelResult]:
    """Make a noise model, yielding progress; inputs are checked before the first step.

    Parameters
    ----------
    images : ndarray or sequence of ndarray (or paths, for calibration)
        ``"calibration"``: stacks ``(T, Y, X)`` of frames of a static sample (arrays or
        TIFF paths). Otherwise: noisy images, 2D or stacks of planes, in raw units.
    source : {"calibration", "bootstrap", "denoised"}
        Where the signal comes from (see the module notes).
    denoised : ndarray or sequence of ndarray, optional
        With ``source="denoised"``: the denoised version of each image, same shapes.
    settings : NoiseModelSettings, optional
        How to fit (default: the reference's settings).
    subset : float
        With ``source="bootstrap"``: the fraction of each image's planes to bootstrap
        (evenly spread, at least one); BM3D takes seconds per plane.
    names : sequence of str, optional
        With ``source="calibration"``: what messages call the stacks (layer names).

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns a
        :class:`NoiseModelResult`; the bootstrap's pseudo ground truth covers the planes
        of `subset` only.

    Raises
    ------
    InputError, SettingsError
        Bad images or settings, raised by this call, before any work (the bootstrap's
        checks of the noise itself: at the first step, before any BM3D pass).

    Warns
    -----
    UserWarning
        If pixels are saturated (how many; they are left out of the fit).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.poisson(np.linspace(5, 80, 48)[None, None, :] * np.ones((20, 48, 1)))
    >>> result = make_noise_model(
    ...     frames, settings=NoiseModelSettings(n_iterations=20, batch_size=2000)
    ... )
    >>> result.noise_model.kind, result.noise_model.metadata["source"]
    ('gmm', 'calibration')
    """
    settings = resolve_settings(settings)
    if source not in SOURCES:
        raise SettingsError(f"`source` must be one of {SOURCES} (got {source!r})")
    if (denoised is not None) != (source == "denoised"):
        raise SettingsError("give `denoised` images exactly when `source` is 'denoised'")
    if not 0.0 < subset <= 1.0:
        raise SettingsError(f"`subset` must be a fraction in (0, 1] (got {subset})")
    if source == "calibration":
        pairs = calibration_pairs(images, saturation=settings.saturation, names=names)
        # The frames themselves, unless pooled flat from stacks of several sizes.
        frames = [pairs.observation] if min(pairs.observation.shape[-2:]) >= 3 else None
        return _fit_job(pairs, iter_fit_pairs(pairs, settings), noisy=frames)
    noisy = _as_list(images)
    if source == "denoised":
        pairs = _denoised_pairs(noisy, _as_list(denoised), settings.saturation)
        return _fit_job(pairs, iter_fit_pairs(pairs, settings), noisy=noisy)
    noisy = [bootstrap_subset(image, subset) for image in noisy]
    return _bootstrap_job(noisy, settings)


def _fit_job(
    pairs: NoisePairs,
    fit: Generator[Progress, None, NoiseModel],
    pseudo_ground_truth: list[np.ndarray] | None = None,
    *,
    noisy: list[np.ndarray] | None = None,
) -> Generator[Progress, None, NoiseModelResult]:
    """Fit, then set the model beside its pairs and beside the `noisy` images' own noise."""
    model = yield from fit
    model.metadata["source"] = pairs.method
    yield Progress("comparing the model with the data", 0, 1)
    data = estimate_from_pairs(model, pairs)
    if noisy is not None:
        data = replace(data, local=local_variance(model, noisy))
    return NoiseModelResult(model, pairs, data, pseudo_ground_truth)


def _bootstrap_job(
    images: list[np.ndarray], settings: NoiseModelSettings
) -> Generator[Progress, None, NoiseModelResult]:
    pairs, signals = yield from _bootstrap(images, settings.saturation)
    return (yield from _fit_job(pairs, iter_fit_pairs(pairs, settings), signals, noisy=images))


make_noise_model = blocking(iter_make_noise_model)
