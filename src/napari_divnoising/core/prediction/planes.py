"""The posterior of one plane: every result of :func:`.sampling.iter_sample_posterior`.

A stack is denoised plane by plane, each plane on its own: its latent noise is seeded by
(seed, plane index, augmentation), so a plane's results depend only on its pixels, its
index in the stack and the settings — not on which process computes it, in which order, or
with which tile and batch size. That is what lets a big stack be split over the processes
of a cluster (:mod:`.chunked`) and give the in-process result.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import InputError
from ..events import Progress
from ..model.likelihood import GaussianLikelihood
from ..uncertainty.intervals import gaussian_interval
from ..validation import as_image_stack
from .detail import restore_detail
from .dihedral import (
    augment,
    augmentations,
    kept_per_view,
    samples_per_view,
    unaugment,
    view_shapes,
)
from .direct import DirectPlanes
from .posterior import SampleCount, sample_plane
from .results import Prediction, check_finite_results, result_names
from .runtime import plan_views, resolve_device, tile_context

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from ..stacks import Stack
    from .config import SamplingConfig

__all__ = ["PlaneSampler", "iter_sample_stack_plane", "plane_predictor", "spread_scale"]


def spread_scale(model: TrainedModel, settings: SamplingConfig) -> float:
    """Return the factor on the samples' standard deviation: the calibration's, or 1."""
    calibration = getattr(model, "uncertainty_calibration", None)
    if calibration is None or not settings.calibrate_uncertainty:
        return 1.0
    return float(calibration.scale)


def plane_predictor(
    model: TrainedModel,
    settings: SamplingConfig,
    plane_shape: tuple[int, int],
    *,
    device: torch.device | str | None,
) -> PlaneSampler | DirectPlanes:
    """Return what computes the results of planes of one shape.

    The posterior sampler, or the direct network when `settings` ask for it; both have
    ``iter_plane`` and ``samples_per_plane``.
    """
    kind = DirectPlanes if settings.direct else PlaneSampler
    return kind(model, settings, plane_shape, device=device)


class PlaneSampler:
    """Sample the posterior of planes of one shape with one model and one set of settings.

    Parameters
    ----------
    model : TrainedModel
        The trained model.
    settings : SamplingConfig
        What to draw and return.
    plane_shape : tuple of int
        ``(Y, X)`` of every plane it will see.
    device : torch.device or str or None
        Where to sample (None: a GPU if there is one, else the CPU).
    """

    def __init__(
        self,
        model: TrainedModel,
        settings: SamplingConfig,
        plane_shape: tuple[int, int],
        *,
        device: torch.device | str | None,
    ) -> None:
        device = resolve_device(device)
        self.settings = settings
        self.transforms = augmentations(settings.tta)
        self.counts = samples_per_view(
            settings.n_samples, settings.tta, map_estimate=settings.map_estimate
        )
        self.kept = kept_per_view(settings.keep_samples, self.counts)
        views = view_shapes((1, *plane_shape), settings.tta)
        self.plans = plan_views(views, settings, model.network, device=device)
        self.context = tile_context(model, seed=settings.seed, device=device)
        self.likelihood = model.noise_model or GaussianLikelihood(model.gaussian_sigma)
        self.scale = spread_scale(model, settings)
        self.normalisation = (float(model.data_mean), float(model.data_std))
        self.samples_per_plane = sum(
            n * len(self.plans[view][0]) for n, view in zip(self.counts, views, strict=True)
        )

    def iter_plane(
        self, plane: np.ndarray, index: int, count: SampleCount
    ) -> Generator[Progress, None, dict[str, np.ndarray]]:
        """Sample plane number `index` of its stack; yield progress, return its results.

        Parameters
        ----------
        plane : ndarray of float32, shape (Y, X)
            The noisy plane, validated.
        index : int
            Its position in the stack: part of its latent noise's seed.
        count : SampleCount
            Counts the samples of the whole job.

        Returns
        -------
        dict of str to ndarray
            The results of :func:`result_names`, float32; ``samples`` has the sample axis
            first.
        """
        settings = self.settings
        results: dict[str, np.ndarray] = {}
        spread, drawn, kept = None, 0, []
        for augmentation, (turns, flip) in enumerate(self.transforms):
            n_samples = self.counts[augmentation]
            view = augment(plane, turns, flip)
            blend = yield from sample_plane(
                view,
                self.plans[view.shape],
                self.context,
                settings,
                stream=(index, augmentation),
                count=count,
                n_samples=n_samples,
                keep=self.kept[augmentation],
            )
            if blend.samples is not None:  # kept samples of every view, turned back
                kept.append(unaugment(blend.samples, turns, flip))
            if augmentation == 0:
                results["mmse"], drawn = blend.mean.copy(), n_samples
                spread = None if blend.variance is None else n_samples * blend.variance
                if blend.map is not None:
                    results["map"] = blend.map
                continue
            # Pool the augmentations as one set of samples (Chan's parallel update of the
            # mean and of the sum of squared deviations, each view weighted by its count).
            mean = unaugment(blend.mean, turns, flip)
            delta = mean - results["mmse"]
            results["mmse"] += delta * (n_samples / (drawn + n_samples))
            if spread is not None:
                spread += n_samples * unaugment(blend.variance, turns, flip)
                spread += delta**2 * (drawn * n_samples / (drawn + n_samples))
            drawn += n_samples
        if kept:
            results["samples"] = np.concatenate(kept)
        if spread is not None:
            spread /= drawn
            results["uncertainty"] = self.scale * np.sqrt(np.clip(spread, 0.0, None))
        if settings.interval is not None:
            bounds = gaussian_interval(results["mmse"], results["uncertainty"], settings.interval)
            results["lower"], results["upper"] = bounds
        if settings.restore_detail:
            results["restored"], _ = restore_detail(results["mmse"], plane, self.likelihood)
        chosen = {
            name: results[name].astype(np.float32, copy=False) for name in result_names(settings)
        }
        check_finite_results(chosen, plane, index, self.normalisation)
        return chosen


def iter_sample_stack_plane(
    stack: Stack,
    index: int,
    model: TrainedModel,
    settings: SamplingConfig,
    *,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, Prediction]:
    """Sample one plane of a (lazy) stack, as the whole stack's prediction would.

    Only that plane is read. Its latent noise is seeded by its index in the stack, so the
    results equal that plane of :func:`.to_zarr.iter_predict_to_zarr`'s.

    Parameters
    ----------
    stack : Stack
        The stack (see :func:`~napari_divnoising.core.stacks.open_stack`).
    index : int
        The plane, counted over all leading axes in C order.
    model : TrainedModel
        The trained model.
    device : torch.device or str, optional
        Where to sample.
    settings : SamplingConfig
        The sampling settings.

    Returns
    -------
    Generator
        Yields progress; returns a :class:`~.results.Prediction` of shape ``(Y, X)``.

    Raises
    ------
    InputError
        If `index` is not a plane of the stack or the plane cannot be denoised.
    """
    if not 0 <= index < stack.n_planes:
        raise InputError(f"plane {index} is not in {stack.name} ({stack.n_planes} planes)")
    name = f"plane {index} of {stack.name}"
    plane = as_image_stack(stack.read_plane(index), name=name, min_size=model.size_multiple)[0]
    sampler = plane_predictor(model, settings, plane.shape, device=device)
    results = yield from sampler.iter_plane(plane, index, SampleCount(sampler.samples_per_plane))
    return Prediction(**results, settings=settings)
