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
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..events import Progress, blocking
from ..model_files.resolve import as_trained_model
from ..validation import as_image, as_image_stack
from .config import SamplingConfig, sampling_config
from .direct import DirectPlanes
from .planes import PlaneSampler, plane_predictor
from .posterior import SampleCount
from .results import Prediction
from .runtime import decode_precision, resolve_device

if TYPE_CHECKING:
    from ..model.trained import TrainedModel

__all__ = [
    "decode_precision",
    "iter_predict_direct",
    "iter_sample_image",
    "iter_sample_posterior",
    "predict_direct",
    "sample_posterior",
]


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
    tta: bool = True,
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
    return iter_sample_image(image, model, settings, device=device)


def iter_sample_image(
    image: np.ndarray,
    model: TrainedModel | str | os.PathLike[str],
    settings: SamplingConfig,
    *,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, Prediction]:
    """Sample the posterior of every plane of an image in memory, with `settings`.

    :func:`iter_sample_posterior` with its settings gathered in a
    :class:`~.config.SamplingConfig` (what the prediction recipe passes). Inputs are
    validated when it is called.
    """
    image, model = as_image(image, name="image"), as_trained_model(model)
    multiple = int(model.network.size_multiple)
    shape = tuple(np.shape(image))
    planes = as_image_stack(image, min_size=multiple)
    if getattr(model, "noise_model", None) is not None:
        model.noise_model.check_signal_range(planes)
    torch_device = resolve_device(device)
    # Planning the tiles now names a tile overlap that does not fit before any work.
    sampler = plane_predictor(model, settings, planes.shape[1:], device=torch_device)
    return _run(planes, shape, sampler)


sample_posterior = blocking(iter_sample_posterior)


def iter_predict_direct(
    image: np.ndarray,
    model: TrainedModel | str | os.PathLike[str],
    *,
    tta: bool = False,
    tile_size: int | None = None,
    device: torch.device | str | None = None,
) -> Generator[Progress, None, Prediction]:
    """Give the direct network's MMSE of every plane: one pass each, no sampling.

    Parameters
    ----------
    image : array_like
        A 2D image ``(Y, X)`` or a stack ``(..., Y, X)`` of planes, raw intensities.
    model : TrainedModel or path-like
        A trained model with a direct network, or its file.
    tta : bool
        Average the 8 rotations and flips (8 passes).
    tile_size : int, optional
        Largest tile side; lower it if memory runs out.
    device : torch.device or str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default: a GPU if there is one, else the CPU.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress` (one step per plane) and
        returns a :class:`Prediction` whose ``direct_mmse`` is set.

    Raises
    ------
    SettingsError
        If the model has no direct network, or a setting is out of range.
    """
    settings = sampling_config(direct=True, tta=tta, tile_size=tile_size)
    return iter_sample_image(image, model, settings, device=device)


predict_direct = blocking(iter_predict_direct)


def _run(
    planes: np.ndarray, shape: tuple[int, ...], sampler: PlaneSampler | DirectPlanes
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
