"""Posterior sampling with a trained DivNoising model: MMSE, uncertainty, MAP.

Every 2D plane is cut into overlapping tiles (:mod:`.tiling`). Each tile is encoded once;
latent codes are drawn in batches and decoded; a running mean and variance (Chan's
parallel update) is kept per tile, so memory is bounded by the tile and not by the image
or the number of samples. Only the first ``keep_samples`` samples are kept, and, when a
MAP estimate is asked for, all samples of the *current* tile (:mod:`.mean_shift`).

The latent noise is drawn per block of a fixed global latent grid, from a generator seeded
by (seed, plane, augmentation, sample, block). A latent pixel therefore receives the same
noise whatever the tile or batch size, and neighbouring tiles agree exactly where both see
the pixel's whole receptive field: the blended result has no seams and equals an untiled
prediction.

Decoding runs under ``torch.inference_mode`` with channels-last tensors and, where the
processor has native bfloat16 (AVX-512 BF16, AMX, recent GPUs), bfloat16 autocast for all
decoder layers but the last; the encoder, the output layer and all statistics stay in
float32 (see :func:`decode_precision`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..arguments import as_image, as_trained_model
from ..events import Progress, run_generator
from ..training.losses import GaussianLikelihood
from ..validation import as_image_stack
from .config import SamplingConfig, sampling_config
from .detail import restore_detail
from .dihedral import augment, augmentations, unaugment, view_shapes
from .posterior import SampleCount, sample_plane
from .runtime import decode_precision, plan_views, resolve_device, tile_context
from .tiling import TileGrid

if TYPE_CHECKING:
    from ..model.bundle import TrainedModel

__all__ = ["Prediction", "decode_precision", "iter_sample_posterior", "sample_posterior"]


@dataclass(frozen=True)
class Prediction:
    """Results of posterior sampling, in raw intensity units, float32.

    Attributes
    ----------
    mmse : ndarray
        Mean of the samples (the MMSE estimate), same shape as the input.
    restored : ndarray or None
        The MMSE with the detail that its residual shows restored, if asked for.
    map : ndarray or None
        Patch-wise mode of the samples (the MAP estimate), if asked for.
    uncertainty : ndarray or None
        Per-pixel standard deviation of the samples, if asked for.
    samples : ndarray or None
        The first ``keep_samples`` samples, shape ``(keep_samples, *image.shape)``.
    settings : SamplingConfig or None
        The settings the samples were drawn with.
    """

    mmse: np.ndarray
    restored: np.ndarray | None = None
    map: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    samples: np.ndarray | None = None
    settings: SamplingConfig | None = None


class _PosteriorImages:
    """The results of a stack ``(N, Y, X)``, filled plane by plane (numpy float32).

    The first augmentation of a plane is stored as it is; every further one is pooled
    with it as one set of samples (law of total variance, with a Welford update over the
    augmentations' means): `spread` sums the variances until :meth:`finish_plane`.
    """

    def __init__(
        self, shape: tuple[int, int, int], *, uncertainty: bool, map_estimate: bool, keep: int
    ) -> None:
        self.mmse = np.empty(shape, np.float32)
        self.spread = np.empty_like(self.mmse) if uncertainty else None
        self.map = np.empty_like(self.mmse) if map_estimate else None
        self.samples = np.empty((keep, *shape), np.float32)

    def store(self, index: int, blend: Any) -> None:
        """Keep the (un-augmented) blended results of plane `index`."""
        self.mmse[index] = blend.mean
        if self.spread is not None:
            self.spread[index] = blend.variance
        if self.map is not None:
            self.map[index] = blend.map
        if blend.samples is not None:
            self.samples[:, index] = blend.samples

    def pool(self, index: int, count: int, mean: np.ndarray, variance: np.ndarray | None) -> None:
        """Pool the `count`-th augmentation's (restored) `mean` and `variance` of a plane."""
        delta = mean - self.mmse[index]
        self.mmse[index] += delta / count
        if self.spread is not None:
            self.spread[index] += variance
            self.spread[index] += delta * (mean - self.mmse[index])

    def finish_plane(self, index: int, n_augmentations: int) -> None:
        """Turn the plane's summed variances into the standard deviation of all samples."""
        if self.spread is not None:
            spread = self.spread[index]
            spread /= n_augmentations
            np.sqrt(np.clip(spread, 0.0, None, out=spread), out=spread)

    def prediction(self, shape: tuple[int, ...], settings: SamplingConfig) -> Prediction:
        """Return the results in the input's `shape`, with the `settings` they used."""
        keep = settings.keep_samples
        return Prediction(
            mmse=self.mmse.reshape(shape),
            map=None if self.map is None else self.map.reshape(shape),
            uncertainty=None if self.spread is None else self.spread.reshape(shape),
            samples=self.samples.reshape((keep, *shape)) if keep else None,
            settings=settings,
        )


def iter_sample_posterior(
    image: np.ndarray,
    model: TrainedModel | str | os.PathLike[str],
    *,
    n_samples: int = 100,
    keep_samples: int = 0,
    map_estimate: bool = False,
    uncertainty: bool = True,
    restore_detail: bool = True,
    tta: bool = False,
    tile_size: int | None = None,
    tile_overlap: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, Prediction]:
    """Sample the DivNoising posterior of every plane; yield progress, return the results.

    Inputs are validated when this function is called, before any work starts.

    Parameters
    ----------
    image : array_like
        A 2D image ``(Y, X)`` or a stack ``(..., Y, X)`` of planes, raw intensities.
    model : TrainedModel or path-like
        The trained network with its normalisation (and noise model), or its file.
    n_samples, keep_samples, map_estimate, uncertainty, restore_detail, tta : int or bool
        What to draw and return: how many posterior samples per plane, how many of them
        to return, and whether to add the MAP estimate, the per-pixel standard deviation,
        the detail-restored MMSE and test-time augmentation. The fields of
        :class:`~.config.SamplingConfig`, which documents each one, its default and limits.
    tile_size, tile_overlap, batch_size : int, optional
        How the work is cut up; by default from the memory available (see
        :class:`~.config.SamplingConfig`). The result does not depend on them.
    seed : int
        Seed of the latent noise.
    device : torch.device or str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default: a GPU if there is one, else the CPU.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress` (steps are samples, over all
        planes, augmentations and tiles) and returns a :class:`Prediction`.

    Raises
    ------
    InputError
        If `model` is not a model or a path, or the image is not a usable grayscale image
        or stack (a file name, RGB, NaN, constant, smaller than ``network.size_multiple``).
    ModelFileError
        If `model` is a path but no readable model file.
    SettingsError
        If a setting is out of range (see :class:`.config.SamplingConfig`).

    Warns
    -----
    NoiseModelRangeWarning
        If the image reaches outside the signal range the noise model was fitted on.
    """
    settings = sampling_config(
        n_samples=n_samples,
        keep_samples=keep_samples,
        map_estimate=map_estimate,
        uncertainty=uncertainty,
        restore_detail=restore_detail,
        tta=tta,
        tile_size=tile_size,
        tile_overlap=tile_overlap,
        batch_size=batch_size,
        seed=seed,
    )
    image, model = as_image(image, name="image"), as_trained_model(model)
    multiple = int(model.network.size_multiple)
    shape = tuple(np.shape(image))
    planes = as_image_stack(image, min_size=multiple)
    if getattr(model, "noise_model", None) is not None:
        model.noise_model.check_signal_range(planes)
    torch_device = resolve_device(device)
    views = view_shapes(planes.shape, settings.tta)
    plans = plan_views(views, settings, model.network, device=torch_device)
    return _run(planes, shape, model, settings, torch_device, plans)


def sample_posterior(
    image: np.ndarray,
    model: TrainedModel | str | os.PathLike[str],
    *,
    progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> Prediction:
    """Sample the DivNoising posterior and return MMSE, MAP, uncertainty and samples.

    The blocking form of :func:`iter_sample_posterior`; `options` are its keyword
    arguments (``n_samples``, ``keep_samples``, ``map_estimate``, ``uncertainty``,
    ``tta``, ``tile_size``, ``tile_overlap``, ``batch_size``, ``seed``, ``device``).

    Parameters
    ----------
    image : array_like
        A 2D image ``(Y, X)`` or a stack ``(..., Y, X)``, raw intensities.
    model : TrainedModel or path-like
        The trained model, or the path of its ``.divnoising`` file.
    progress : callable, optional
        Called with every :class:`~napari_divnoising.core.events.Progress` event.
    **options
        Keyword arguments of :func:`iter_sample_posterior`.

    Returns
    -------
    Prediction
        MMSE, and the MAP, uncertainty and samples that were asked for.
    """
    return run_generator(iter_sample_posterior(image, model, **options), progress)


def _run(
    planes: np.ndarray,
    shape: tuple[int, ...],
    model: TrainedModel,
    settings: SamplingConfig,
    device: torch.device,
    plans: dict[tuple[int, ...], tuple[TileGrid, int]],
) -> Generator[Progress, None, Prediction]:
    context = tile_context(model, seed=settings.seed, device=device)
    transforms = augmentations(settings.tta)
    views = view_shapes(planes.shape, settings.tta)
    count = SampleCount(
        len(planes) * sum(len(plans[view][0]) for view in views) * settings.n_samples
    )
    images = _PosteriorImages(
        planes.shape,
        uncertainty=settings.uncertainty,
        map_estimate=settings.map_estimate,
        keep=settings.keep_samples,
    )
    for index, plane in enumerate(planes):
        for augmentation, (turns, flip) in enumerate(transforms):
            view = augment(plane, turns, flip)
            blend = yield from sample_plane(
                view,
                plans[view.shape],
                context,
                settings,
                stream=(index, augmentation),
                count=count,
            )
            if augmentation == 0:
                images.store(index, blend)
            else:
                variance = (
                    None if blend.variance is None else unaugment(blend.variance, turns, flip)
                )
                images.pool(index, augmentation + 1, unaugment(blend.mean, turns, flip), variance)
        images.finish_plane(index, len(transforms))
    prediction = images.prediction(shape, settings)
    if not settings.restore_detail:
        return prediction
    likelihood = model.noise_model or GaussianLikelihood(model.gaussian_sigma)
    restored, _ = restore_detail(prediction.mmse.reshape(planes.shape), planes, likelihood)
    return replace(prediction, restored=restored.reshape(shape))
