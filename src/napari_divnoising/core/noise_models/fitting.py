"""Fit a noise model to (signal, observation) pixel pairs.

:func:`iter_fit_noise_model` is a generator: it yields a
:class:`~napari_divnoising.core.events.Progress` per step and returns the model, so the
GUI can run it in a worker and stop it at any time; :func:`fit_noise_model` is the
blocking wrapper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..events import Progress, run_generator
from ._init import binned_variance, coefficient_scale, default_min_sigma, initial_weight
from ._pairs import PairSampler, validate_pairs
from .base import NoiseModel

__all__ = ["NoiseModelFitError", "fit_noise_model", "iter_fit_noise_model"]

KINDS = ("gmm", "histogram")
#: Pairs drawn once to set the starting point and the default variance floor.
PILOT_PAIRS = 1 << 19
#: Fraction of the iterations spent warming the learning rate up, and its final fraction.
WARMUP_FRACTION = 0.05
FINAL_LR_FRACTION = 0.01
#: Non-finite steps tolerated (each restores the last finite weights, halves the rate).
MAX_NONFINITE_STEPS = 5


class NoiseModelFitError(RuntimeError):
    """The optimisation of a noise model failed (for example it kept producing NaN)."""


def _check_settings(settings: dict[str, Any]) -> None:
    if settings["kind"] not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS} (got {settings['kind']!r})")
    for name in ("n_gaussian", "n_coeff", "n_iterations", "batch_size"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be an integer ≥ 1 (got {value!r})")
    for name in ("learning_rate", "min_sigma", "saturation"):
        value = settings[name]
        if value is None and name != "learning_rate":
            continue
        if not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
            raise ValueError(f"`{name}` must be a finite number (got {value!r})")
        if name != "saturation" and value <= 0:
            raise ValueError(f"`{name}` must be > 0 (got {value!r})")
    low, high = settings["lower_percentile"], settings["upper_percentile"]
    numbers = all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in (low, high)
    )
    if not (numbers and 0.0 <= low < high <= 100.0):
        raise ValueError(
            "percentiles must satisfy 0 ≤ lower_percentile < upper_percentile ≤ 100 "
            f"(got {low!r} and {high!r})"
        )
    bins = settings["bins"]
    if bins is not None and (
        isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2
    ):
        raise ValueError(f"`bins` must be None or an integer ≥ 2 (got {bins!r})")


#: The settings that matter for each kind, recorded in the model's metadata.
_RECORDED = {
    "gmm": (
        "n_gaussian", "n_coeff", "min_sigma", "n_iterations", "batch_size", "learning_rate",
        "lower_percentile", "upper_percentile", "saturation", "seed", "nonfinite_steps",
        "final_loss",
    ),
    "histogram": ("bins", "lower_percentile", "upper_percentile", "saturation"),
}  # fmt: skip


def _metadata(kind: str, settings: dict[str, Any], sampler: PairSampler) -> dict[str, Any]:
    from napari_divnoising import __version__

    fit = {name: settings[name] for name in _RECORDED[kind] if name in settings}
    return {
        "kind": kind,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "software": f"napari-divnoising {__version__}",
        "intensity_units": "raw camera intensity, as the observations it was fitted on",
        "observation_dtype": str(sampler.observation.dtype),
        "fit": {**fit, "saturation": sampler.saturation},
    }


def iter_fit_noise_model(
    signal: np.ndarray,
    observation: np.ndarray,
    *,
    kind: str = "gmm",
    n_gaussian: int = 3,
    n_coeff: int = 2,
    min_sigma: float | None = None,
    n_iterations: int = 2000,
    batch_size: int = 100_000,
    learning_rate: float = 0.1,
    lower_percentile: float = 0.0,
    upper_percentile: float = 100.0,
    saturation: float | None = None,
    bins: int | None = None,
    seed: int = 0,
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
    kind : {"gmm", "histogram"}
        Gaussian mixture or 2D histogram.
    n_gaussian, n_coeff : int
        Mixture components and polynomial coefficients (2 = linear in the signal).
    min_sigma : float, optional
        Floor on the component variances. By default a quarter of the smallest empirical
        variance found in signal bins (never below 1/12 for integer data).
    n_iterations, batch_size : int
        Adam steps and random pairs per step.
    learning_rate : float
        Peak Adam learning rate (warm-up, then cosine decay to 1% of it).
    lower_percentile, upper_percentile : float
        Pixels whose signal lies outside these signal percentiles are left out.
    saturation : float, optional
        Observations at or above this value are left out; by default the largest value
        of an integer dtype.
    bins : int, optional
        Histogram bins per axis; by default up to 256, aligned with integer values for
        integer data.
    seed : int
        Seed of the pair sampling; the same inputs and seed give the same model.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns the fitted
        :class:`~napari_divnoising.core.noise_models.NoiseModel`.

    Raises
    ------
    ImageError
        If the arrays cannot be used (shapes differ, NaN/inf, constant, nothing usable).
    ValueError
        If a setting is out of range.
    """
    settings = {
        "kind": kind,
        "n_gaussian": n_gaussian,
        "n_coeff": n_coeff,
        "min_sigma": min_sigma,
        "n_iterations": n_iterations,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lower_percentile": lower_percentile,
        "upper_percentile": upper_percentile,
        "saturation": saturation,
        "bins": bins,
        "seed": seed,
    }
    _check_settings(settings)
    signal, observation = validate_pairs(signal, observation)
    sampler = PairSampler(
        signal,
        observation,
        lower_percentile=lower_percentile,
        upper_percentile=upper_percentile,
        saturation=saturation,
        rng=np.random.default_rng(seed),
    )
    if kind == "histogram":
        from ._histogram_fit import fit_histogram

        return fit_histogram(sampler, metadata=_metadata("histogram", settings, sampler))
    return _fit_gmm(sampler, settings=settings)


def fit_noise_model(
    signal: np.ndarray,
    observation: np.ndarray,
    *,
    progress: Callable[[Progress], None] | None = None,
    **settings: Any,
) -> NoiseModel:
    """Fit a noise model and return it; the blocking form of :func:`iter_fit_noise_model`.

    Parameters
    ----------
    signal, observation : ndarray
        As in :func:`iter_fit_noise_model`.
    progress : callable, optional
        Called with every :class:`~napari_divnoising.core.events.Progress`.
    **settings
        The keyword settings of :func:`iter_fit_noise_model`.

    Returns
    -------
    NoiseModel
        The fitted model.

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
    return run_generator(iter_fit_noise_model(signal, observation, **settings), progress)


def _learning_rate_factor(step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to `FINAL_LR_FRACTION` of the peak."""
    warmup = max(1, int(WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))


def _fit_gmm(
    sampler: PairSampler, *, settings: dict[str, Any]
) -> Generator[Progress, None, NoiseModel]:
    import torch

    from . import _mixture
    from .gmm import GaussianMixtureNoiseModel

    n_gaussian, n_coeff = settings["n_gaussian"], settings["n_coeff"]
    n_iterations, base_lr = settings["n_iterations"], settings["learning_rate"]
    pilot_signal, pilot_observation = sampler.draw(PILOT_PAIRS)
    stats = binned_variance(
        pilot_signal.astype(np.float64), pilot_observation.astype(np.float64), n_bins=64
    )
    min_sigma = settings["min_sigma"]
    if min_sigma is None:
        min_sigma = default_min_sigma(stats, integer_data=sampler.integer_data)
    ranges = {"min_signal": sampler.min_signal, "max_signal": sampler.max_signal}
    start = initial_weight(stats, n_gaussian=n_gaussian, n_coeff=n_coeff, **ranges)
    scale = torch.as_tensor(
        coefficient_scale(stats, pilot_signal, n_gaussian=n_gaussian, n_coeff=n_coeff, **ranges),
        dtype=torch.float32,
    )
    theta = torch.nn.Parameter(torch.as_tensor(start, dtype=torch.float32) / scale)
    optimizer = torch.optim.Adam([theta], lr=base_lr)
    last_finite, penalty, failures, last_loss = theta.detach().clone(), 1.0, 0, math.nan
    for step in range(n_iterations):
        signal, observation = sampler.draw(settings["batch_size"])
        log_p = _mixture.log_likelihood_from_weight(
            theta * scale,
            torch.from_numpy(observation),
            torch.from_numpy(signal),
            min_sigma=min_sigma,
            floor=_mixture.TOL,
            **ranges,
        )
        loss = -log_p.mean()
        optimizer.zero_grad()
        loss.backward()
        finite = bool(torch.isfinite(loss) and torch.isfinite(theta.grad).all())
        if finite:
            for group in optimizer.param_groups:
                group["lr"] = base_lr * penalty * _learning_rate_factor(step, n_iterations)
            optimizer.step()
            finite = bool(torch.isfinite(theta).all())
        if finite:
            last_finite, last_loss = theta.detach().clone(), float(loss.detach())
        else:
            # Restore the last finite weights and go on more gently, with a fresh optimiser.
            failures += 1
            if failures > MAX_NONFINITE_STEPS:
                raise NoiseModelFitError(
                    f"the noise model fit produced NaN/inf {failures} times (last at step "
                    f"{step + 1}); try a smaller learning_rate (got {base_lr}) or a larger "
                    f"min_sigma (got {min_sigma:.6g})"
                )
            with torch.no_grad():
                theta.copy_(last_finite)
            penalty *= 0.5
            optimizer = torch.optim.Adam([theta], lr=base_lr * penalty)
        yield Progress(
            "fitting noise model", step + 1, n_iterations, last_loss if finite else None
        )
    fit = {
        **settings,
        "min_sigma": min_sigma,
        "nonfinite_steps": failures,
        "final_loss": last_loss,
    }
    return GaussianMixtureNoiseModel(
        (last_finite * scale).numpy(),
        min_sigma=min_sigma,
        metadata=_metadata("gmm", fit, sampler),
        **ranges,
    )
