"""Fit a noise model to (signal, observation) pixel pairs.

:func:`iter_fit_noise_model` is a generator: it yields a
:class:`~napari_divnoising.core.events.Progress` per step and returns the model, so the
GUI can run it in a worker and stop it at any time; :func:`fit_noise_model` is the
blocking wrapper.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import settings_error_from
from ..events import Progress, blocking
from ..provenance import software_record
from ..validation import as_image
from .base import NoiseModel
from .gmm_fit import fit_gmm
from .pair_sampler import PairSampler
from .pairs import NoisePairs, validate_pairs
from .settings import NoiseModelSettings

__all__ = ["fit_noise_model", "iter_fit_noise_model", "resolve_settings"]


#: The settings that matter for each kind, recorded in the model's metadata.
_RECORDED = {
    "gmm": (
        "n_gaussian", "n_coeff", "min_sigma", "n_iterations", "batch_size", "learning_rate",
        "lower_percentile", "upper_percentile", "saturation", "seed", "nonfinite_steps",
        "final_loss", "stop_when_converged", "iterations_run", "converged_at", "name",
    ),
    "histogram": ("bins", "lower_percentile", "upper_percentile", "saturation", "name"),
}  # fmt: skip


def _metadata(kind: str, settings: dict[str, Any], sampler: PairSampler) -> dict[str, Any]:
    fit = {name: settings[name] for name in _RECORDED[kind] if name in settings}
    return {
        "kind": kind,
        "provenance": software_record(),
        "intensity_units": "raw camera intensity, as the observations it was fitted on",
        "observation_dtype": str(sampler.observation.dtype),
        "fit": {**fit, "saturation": sampler.saturation, "saturated_pixels": sampler.n_saturated},
    }


def resolve_settings(
    settings: NoiseModelSettings | None = None, **options: Any
) -> NoiseModelSettings:
    """Return `settings` with `options` applied, validated.

    Raises
    ------
    SettingsError
        If a value is out of range; the message names the field.
    """
    given = {} if settings is None else settings.model_dump(exclude_unset=True)
    try:
        return NoiseModelSettings(**{**given, **options})
    except ValidationError as err:
        raise settings_error_from(err) from None


def iter_fit_noise_model(
    signal: np.ndarray,
    observation: np.ndarray,
    settings: NoiseModelSettings | None = None,
    *,
    pseudo_ground_truth: bool = False,
    saturated: np.ndarray | None = None,
    **options: Any,
) -> Generator[Progress, None, NoiseModel]:
    """Fit a noise model p(x|s) to pixel pairs, yielding progress; return the model.

    Inputs are validated when this function is called, before the first step.

    Parameters
    ----------
    signal : ndarray
        Clean signal per pixel (e.g. the mean of calibration frames), in raw units. May be
        a read-only ``np.broadcast_to`` view; it is never copied whole.
    observation : ndarray
        Noisy observations, same shape as `signal`.
    settings : NoiseModelSettings, optional
        How to fit (default: the reference's settings; see its fields).
    pseudo_ground_truth : bool
        Whether `signal` was estimated from the noisy images themselves (bootstrap or
        another denoiser): unset percentiles then default to 0.5 and 99.5.
    saturated : ndarray of bool, optional
        Pixel locations to leave out whole, in every frame and from the signal range:
        those saturated in at least one frame (``NoisePairs.saturated``), whose signal is
        biased. Broadcastable to `observation`'s shape; their number is recorded in
        ``metadata["fit"]["saturated_pixels"]``.
    **options
        Fields of :class:`NoiseModelSettings` (``kind``, ``n_iterations``, ...), which
        override those of `settings`.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns the fitted
        :class:`~napari_divnoising.core.noise_model.NoiseModel`.

    Raises
    ------
    InputError
        If the arrays cannot be used (shapes differ, NaN/inf, constant, nothing usable).
    SettingsError
        If a setting is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> signal = np.broadcast_to(rng.uniform(10, 100, (32, 32)), (20, 32, 32))
    >>> observation = rng.poisson(signal).astype(np.uint16)
    >>> model = fit_noise_model(signal, observation, n_iterations=50, batch_size=2000)
    >>> model.kind
    'gmm'
    """
    hint = "crop them to one shape, or join them: np.concatenate([a.ravel() for a in arrays])"
    signal = as_image(signal, name="signal", hint=hint)
    observation = as_image(observation, name="observation", hint=hint)
    settings = resolve_settings(settings, **options)
    signal, observation = validate_pairs(signal, observation)
    return _iter_fit(signal, observation, settings, pseudo_ground_truth, saturated)


def iter_fit_pairs(
    pairs: NoisePairs, settings: NoiseModelSettings
) -> Generator[Progress, None, NoiseModel]:
    """Fit a noise model to `pairs` (checked when they were made), leaving out the saturated.

    A signal that is not from calibration frames is a pseudo ground truth, whose extreme
    percentiles are clipped (see :meth:`NoiseModelSettings.percentiles`).
    """
    pseudo = pairs.method != "calibration"
    return _iter_fit(pairs.signal, pairs.observation, settings, pseudo, pairs.saturated)


def _iter_fit(
    signal: np.ndarray,
    observation: np.ndarray,
    settings: NoiseModelSettings,
    pseudo_ground_truth: bool,
    saturated: np.ndarray | None,
) -> Generator[Progress, None, NoiseModel]:
    low, high = settings.percentiles(pseudo_ground_truth=pseudo_ground_truth)
    sampler = PairSampler(
        signal,
        observation,
        lower_percentile=low,
        upper_percentile=high,
        saturation=settings.saturation,
        rng=np.random.default_rng(settings.seed),
        saturated=saturated,
    )
    recorded = {**settings.model_dump(), "lower_percentile": low, "upper_percentile": high}
    if settings.kind == "histogram":
        from ._histogram_fit import fit_histogram  # heavy: the histogram model imports torch

        return fit_histogram(sampler, metadata=_metadata("histogram", recorded, sampler))
    return fit_gmm(sampler, settings=recorded, metadata=lambda fit: _metadata("gmm", fit, sampler))


fit_noise_model = blocking(iter_fit_noise_model)
