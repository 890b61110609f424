"""Calibrating the posterior's spread on held-back data, without a ground truth.

A user has no clean images, so coverage cannot be checked against the truth. It can be
checked against truths the model itself makes plausible (simulation-based calibration):

1. draw one posterior sample ``s*`` of a held-back noisy plane ``x`` — a clean image the
   model finds plausible for data like the user's;
2. corrupt it with the noise model, ``x* ~ p(x | s*)`` — the camera's noise, as measured;
3. sample the posterior of ``x*`` and compare its mean and σ with ``s*``, whose value is
   now known.

If the model were exact, ``s*`` would be a draw from the prior of clean images and
``(s*, x*)`` a pair from the true joint distribution, so ``s*`` would fall in the 90%
interval of ``x*``'s posterior on 90% of pixels. An amortised encoder is rarely exact; the
mismatch is summed up by one scale factor ``c`` on σ, the maximum-likelihood "σ-scaling"
of Laves et al. (2020): ``c² = mean((s* − MMSE*)² / σ*²)``. It is estimated on the
training data's held-back validation planes only — never on a ground truth — stored in the
model bundle with how it was made, and applied (or not: ``calibrate_uncertainty=False``)
when the posterior is sampled.

What it cannot see: structures the model never learnt (the simulated truths are images
the model can represent), and signals outside the noise model's range.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import RunFailedError
from ..events import Progress
from ..model.uncertainty_calibration import SCALE_RANGE, UncertaintyCalibration
from ..prediction.config import sampling_config
from ..prediction.planes import PlaneSampler
from ..prediction.posterior import SampleCount
from ..uncertainty.intervals import COVERAGE_LEVELS, gaussian_coverage

if TYPE_CHECKING:
    import torch

    from ..model.trained import TrainedModel
    from .patches import DataSplit

__all__ = [
    "CALIBRATION_PIXELS",
    "calibration_crops",
    "iter_calibrate_held_back",
    "iter_calibrate_uncertainty",
]

#: Pixels of held-back data the calibration samples, at most (two posteriors of each).
CALIBRATION_PIXELS = 2**18
_STAGE = "calibrating uncertainty"


def calibration_crops(
    planes: Sequence[np.ndarray], *, max_pixels: int = CALIBRATION_PIXELS, multiple: int = 1
) -> list[np.ndarray]:
    """Centre crops of `planes` with at most `max_pixels` pixels in all.

    Each crop's sides are multiples of `multiple` and at least ``max(64, multiple)``
    where the plane allows; planes beyond the budget are left out, evenly spread.
    """
    side_min = max(64, multiple)
    n_planes = max(1, min(len(planes), max_pixels // side_min**2))
    chosen = np.linspace(0, len(planes) - 1, n_planes).round().astype(int)
    side = max(side_min, math.isqrt(max_pixels // n_planes)) // multiple * multiple
    crops = []
    for index in dict.fromkeys(chosen.tolist()):
        plane = np.asarray(planes[index], dtype=np.float32)
        height, width = (min(n, side) // multiple * multiple for n in plane.shape[-2:])
        if height and width:
            top, left = (plane.shape[-2] - height) // 2, (plane.shape[-1] - width) // 2
            crops.append(plane[top : top + height, left : left + width])
    return crops


def _sample(model, plane, index, device, **settings) -> Generator[Progress, None, dict]:
    """Sample the raw (uncalibrated) posterior of one plane, as a prediction does.

    Without test-time augmentation: the scale is that of the posterior itself. Pooling the
    8 views changes the calibrated coverage on FMD by under 2 points (docs/benchmarks.md).
    """
    config = sampling_config(
        restore_detail=False, calibrate_uncertainty=False, tta=False, **settings
    )
    sampler = PlaneSampler(model, config, plane.shape, device=device)
    return (yield from sampler.iter_plane(plane, index, SampleCount(sampler.samples_per_plane)))


def iter_calibrate_uncertainty(
    model: TrainedModel,
    planes: Sequence[np.ndarray],
    *,
    n_samples: int = 100,
    max_pixels: int = CALIBRATION_PIXELS,
    seed: int = 0,
    source: str | None = None,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, UncertaintyCalibration | None]:
    """Estimate the scale of the posterior's σ on held-back noisy planes.

    Parameters
    ----------
    model : TrainedModel
        The trained model (with its noise model, or its Gaussian likelihood).
    planes : sequence of ndarray
        Held-back noisy 2D planes of the training data — never a ground truth: none is
        needed, the truths are simulated (see the module docstring).
    n_samples : int
        Posterior samples per simulated plane (as many as a prediction draws).
    max_pixels : int
        Pixels of `planes` used at most (centre crops).
    seed : int
        Seed of the simulation.
    source : str, optional
        What `planes` are, for the record (default: "N held-back validation planes").
    device : torch.device or str, optional
        Where to sample.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns the calibration,
        or None when the planes give no usable estimate (all σ zero, or a scale outside
        0.1–10, which says the estimate failed rather than that the posterior is that far
        off).
    """
    crops = calibration_crops(planes, max_pixels=max_pixels, multiple=model.size_multiple)
    rng = np.random.default_rng([seed, 7])
    likelihood = model.likelihood
    per_crop = n_samples + 1
    total = len(crops) * per_crop
    truths, means, sigmas = [], [], []
    for index, crop in enumerate(crops):
        steps = _sample(model, crop, index, device, n_samples=1, keep_samples=1, seed=seed + 1)
        try:
            drawn = yield from _relabelled(steps, (index * per_crop, 1), total)
            truth = drawn["samples"][0].astype(np.float64)
            simulated = likelihood.sample_observation(truth, rng=rng).astype(np.float32)
            steps = _sample(model, simulated, index, device, n_samples=n_samples, seed=seed)
            posterior = yield from _relabelled(steps, (index * per_crop + 1, n_samples), total)
        except RunFailedError:  # a posterior that is not a number: nothing to calibrate by
            return None
        truths.append(truth.ravel())
        means.append(posterior["mmse"].ravel())
        sigmas.append(posterior["uncertainty"].ravel())
    if not crops:
        return None
    truth, mean, sigma = (np.concatenate(v).astype(np.float64) for v in (truths, means, sigmas))
    usable = sigma > 1e-6 * model.data_std
    if not usable.any():
        return None
    scale = math.sqrt(float(np.mean(((truth - mean)[usable] / sigma[usable]) ** 2)))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        return None
    return UncertaintyCalibration(
        scale=scale,
        source=source or f"{len(planes)} held-back validation plane(s)",
        n_pixels=int(truth.size),
        n_samples=n_samples,
        coverage_before=_coverage(truth, mean, sigma),
        coverage_after=_coverage(truth, mean, sigma * scale),
    )


def _coverage(truth: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    found = gaussian_coverage(truth, mean, sigma, COVERAGE_LEVELS)
    return {str(level): round(value, 4) for level, value in found.items()}


def _relabelled(
    steps: Generator[Progress, None, dict], span: tuple[int, int], total: int
) -> Generator[Progress, None, dict]:
    """Report a posterior's progress as the steps ``span = (first, count)`` of the whole."""
    first, count = span
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            return stop.value
        yield Progress(_STAGE, first + round(event.fraction * count), total)


def iter_calibrate_held_back(
    model: TrainedModel,
    split: DataSplit,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, UncertaintyCalibration | None]:
    """Calibrate `model` on the validation planes of its training split, and only them.

    Yields the calibration's progress and a closing message; returns None (with a message
    saying why) when nothing could be held out from training.
    """
    if split.validation_is_training:
        message = "uncertainty not calibrated: no planes could be held out from training"
        yield Progress(_STAGE, 1, 1, message=message)
        return None
    calibration = yield from iter_calibrate_uncertainty(
        model, split.validation, seed=seed, device=device
    )
    found = "no usable estimate" if calibration is None else calibration.describe()
    yield Progress(_STAGE, 1, 1, message=f"calibrated: {found}")
    return calibration
