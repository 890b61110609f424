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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..arguments import as_image, as_trained_model
from ..events import Progress, run_generator
from ..validation import as_image_stack
from .config import SamplingConfig, sampling_config
from .planes import PlaneSampler
from .posterior import SampleCount
from .runtime import decode_precision, resolve_device

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
        Per-pixel standard deviation of the samples (times the model's calibration scale,
        unless turned off), if asked for.
    lower, upper : ndarray or None
        Bounds of the central posterior interval of probability ``settings.interval``
        (``mmse ∓ z · uncertainty``), if asked for.
    samples : ndarray or None
        The first ``keep_samples`` samples, shape ``(keep_samples, *image.shape)``.
    settings : SamplingConfig or None
        The settings the samples were drawn with.
    """

    mmse: np.ndarray
    restored: np.ndarray | None = None
    map: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    samples: np.ndarray | None = None
    settings: SamplingConfig | None = None


def iter_sample_posterior(
    image: np.ndarray,
    model: TrainedModel | str | os.PathLike[str],
    *,
    n_samples: int = 100,
    keep_samples: int = 0,
    map_estimate: bool = False,
    uncertainty: bool = True,
    calibrate_uncertainty: bool = True,
    interval: float | None = None,
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
    calibrate_uncertainty : bool
        Apply the model's uncertainty calibration, when it has one.
    interval : float, optional
        Also return the bounds of the central posterior interval of this probability
        (0.9: the 90% interval).
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
        calibrate_uncertainty=calibrate_uncertainty,
        interval=interval,
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
    # Planning the tiles now names a tile overlap that does not fit before any work.
    sampler = PlaneSampler(model, settings, planes.shape[1:], device=torch_device)
    return _run(planes, shape, sampler)


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
    ``calibrate_uncertainty``, ``interval``, ``tta``, ``tile_size``, ``tile_overlap``,
    ``batch_size``, ``seed``, ``device``).

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
    planes: np.ndarray, shape: tuple[int, ...], sampler: PlaneSampler
) -> Generator[Progress, None, Prediction]:
    settings = sampler.settings
    count = SampleCount(len(planes) * sampler.samples_per_plane)
    stacks: dict[str, np.ndarray] = {}
    for index, plane in enumerate(planes):
        results = yield from sampler.iter_plane(plane, index, count)
        for name, result in results.items():
            if name not in stacks:
                layout = (len(planes), *result.shape)
                stacks[name] = np.empty(layout, np.float32)
            stacks[name][index] = result
    keep = settings.keep_samples
    images = {
        name: (
            stack.swapaxes(0, 1).reshape((keep, *shape))
            if name == "samples"
            else stack.reshape(shape)
        )
        for name, stack in stacks.items()
    }
    return Prediction(**images, settings=settings)
