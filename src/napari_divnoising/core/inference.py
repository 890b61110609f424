"""Posterior sampling with a trained DivNoising model: MMSE, uncertainty, MAP.

Every 2D plane is cut into overlapping tiles (:mod:`.tiling`). Each tile is encoded once;
latent codes are drawn in batches and decoded; a running mean and variance (Chan's
parallel update) is kept per tile, so memory is bounded by the tile and not by the image
or the number of samples. Only the first ``keep_samples`` samples are kept, and, when a
MAP estimate is asked for, all samples of the *current* tile (:mod:`.map_estimate`).

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

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._runtime import (
    SamplingSettings,
    check_settings,
    decode_precision,
    make_decoder,
    plan_tiles,
    prepare_network,
    receptive_radius,
)
from ._sampling import TileContext, sample_tile
from .events import Progress, run_generator
from .map_estimate import mean_shift_mode
from .tiling import TileBlend, TileGrid, extract_tile
from .validation import as_image_stack

if TYPE_CHECKING:
    from .bundle import TrainedModel

__all__ = ["Prediction", "decode_precision", "iter_sample_posterior", "sample_posterior"]

#: Side of the square MAP patches (see :func:`.map_estimate.mean_shift_mode`).
MAP_PATCH_SIZE = 16
_STAGE = "sampling posterior"


@dataclass(frozen=True)
class Prediction:
    """Results of posterior sampling, in raw intensity units, float32.

    Attributes
    ----------
    mmse : ndarray
        Mean of the samples (the MMSE estimate), same shape as the input.
    map : ndarray or None
        Patch-wise mode of the samples (the MAP estimate), if asked for.
    uncertainty : ndarray or None
        Per-pixel standard deviation of the samples, if asked for.
    samples : ndarray or None
        The first ``keep_samples`` samples, shape ``(keep_samples, *image.shape)``.
    """

    mmse: np.ndarray
    map: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    samples: np.ndarray | None = None


def _resolve_device(device: torch.device | str | None) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from .device import select_device

    return select_device("auto" if device is None else str(device)).device


def _augmentations(tta: bool) -> list[tuple[int, bool]]:
    return [(turns, flip) for flip in (False, True) for turns in range(4)] if tta else [(0, False)]


def _augment(plane: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    out = np.rot90(plane, turns, axes=(-2, -1))
    return np.ascontiguousarray(out[..., ::-1] if flip else out)


def _restore(array: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    out = array[..., ::-1] if flip else array
    return np.ascontiguousarray(np.rot90(out, -turns, axes=(-2, -1)))


def iter_sample_posterior(
    image: np.ndarray,
    model: TrainedModel,
    *,
    n_samples: int = 100,
    keep_samples: int = 0,
    map_estimate: bool = False,
    uncertainty: bool = True,
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
    model : TrainedModel
        The trained network with its normalisation (and noise model).
    n_samples : int
        Posterior samples per plane (per augmentation with `tta`).
    keep_samples : int
        How many of the samples to return (the first ones drawn).
    map_estimate : bool
        Also compute the MAP estimate (patch-wise mean shift over the samples of each tile).
    uncertainty : bool
        Also return the per-pixel standard deviation of the samples.
    tta : bool
        Test-time augmentation: average the MMSE over the 8 rotations/flips (8× slower);
        the uncertainty pools all 8 × `n_samples` samples; MAP and kept samples come from
        the un-augmented image.
    tile_size : int, optional
        Largest tile side (rounded up to a multiple of ``network.size_multiple``; tiles are
        balanced to cover the image evenly). Default: chosen from the memory available,
        up to 1024.
    tile_overlap : int, optional
        Smallest overlap of neighbouring tiles. Default: twice the network's receptive
        radius plus a short blending ramp (60 pixels for the reference network, 92 with
        `map_estimate`).
    batch_size : int, optional
        Latent samples decoded at once. Default: chosen from the tile's memory.
    seed : int
        Seed of the latent noise; the same seed gives the same result for any tile and
        batch size.
    device : torch.device or str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default: a GPU if there is one, else the CPU.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress` (steps are samples, over all
        planes, augmentations and tiles) and returns a :class:`Prediction`.

    Raises
    ------
    ImageError
        If the image is not a usable grayscale image or stack (RGB, NaN, constant, smaller
        than ``network.size_multiple``).
    ValueError
        If a setting is out of range.

    Warns
    -----
    NoiseModelRangeWarning
        If the image reaches outside the signal range the noise model was fitted on.
    """
    settings = check_settings(
        n_samples=n_samples,
        keep_samples=keep_samples,
        map_estimate=map_estimate,
        uncertainty=uncertainty,
        tta=tta,
        tile_size=tile_size,
        tile_overlap=tile_overlap,
        batch_size=batch_size,
        seed=seed,
    )
    multiple = int(model.network.size_multiple)
    shape = tuple(np.shape(image))
    planes = as_image_stack(image, min_size=multiple)
    if getattr(model, "noise_model", None) is not None:
        model.noise_model.check_signal_range(planes)
    torch_device = _resolve_device(device)
    radius = receptive_radius(model.network)
    if settings.map_estimate:
        # A MAP pixel also depends on the samples of the patches around it.
        radius += MAP_PATCH_SIZE
    plans = {}
    for turns, _ in _augmentations(settings.tta):
        view = planes.shape[:0:-1] if turns % 2 else planes.shape[1:]
        if view not in plans:
            plans[view] = plan_tiles(view, settings, model.network, radius, device=torch_device)
    return _run(planes, shape, model, settings, torch_device, plans)


def sample_posterior(
    image: np.ndarray,
    model: TrainedModel,
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
    model : TrainedModel
        The trained model.
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
    settings: SamplingSettings,
    device: torch.device,
    plans: dict[tuple[int, ...], tuple[TileGrid, int]],
) -> Generator[Progress, None, Prediction]:
    network = prepare_network(model.network, device)
    context = TileContext(
        network=network,
        decode=make_decoder(network, device),
        data_mean=float(model.data_mean),
        data_std=float(model.data_std),
        device=device,
        seed=settings.seed,
    )
    augmentations = _augmentations(settings.tta)
    n_planes, height, width = planes.shape
    mmse = np.empty((n_planes, height, width), np.float32)
    spread = np.empty_like(mmse) if settings.uncertainty else None
    map_image = np.empty_like(mmse) if settings.map_estimate else None
    kept = np.empty((settings.keep_samples, n_planes, height, width), np.float32)
    views = [planes.shape[:0:-1] if turns % 2 else planes.shape[1:] for turns, _ in augmentations]
    total = n_planes * sum(len(plans[view][0]) for view in views) * settings.n_samples
    done = 0
    for index, plane in enumerate(planes):
        for augmentation, (turns, flip) in enumerate(augmentations):
            first = augmentation == 0
            view = _augment(plane, turns, flip)
            grid, batch = plans[view.shape]
            blend = TileBlend(
                grid,
                variance=settings.uncertainty,
                map_=settings.map_estimate and first,
                keep=settings.keep_samples if first else 0,
            )
            for tile in grid:
                steps = sample_tile(
                    extract_tile(view, tile),
                    context,
                    origin=(tile.y, tile.x),
                    stream=(index, augmentation),
                    n_samples=settings.n_samples,
                    batch_size=batch,
                    keep=blend.samples.shape[0] if blend.samples is not None else 0,
                    hold_all=blend.map is not None,
                    mode=_map_of if blend.map is not None else None,
                )
                while True:
                    try:
                        done += next(steps)
                    except StopIteration as stop:
                        blend.add(tile, stop.value)
                        break
                    yield Progress(_STAGE, done, total)
            blend.finish()
            if first:
                mmse[index] = blend.mean
                if spread is not None:
                    spread[index] = blend.variance
                if map_image is not None:
                    map_image[index] = blend.map
                if blend.samples is not None:
                    kept[:, index] = blend.samples
                continue
            # Pool the augmentations as one set of samples (law of total variance, with a
            # Welford update over the augmentations' means); `spread` sums variances.
            mean = _restore(blend.mean, turns, flip)
            delta = mean - mmse[index]
            mmse[index] += delta / (augmentation + 1)
            if spread is not None:
                spread[index] += _restore(blend.variance, turns, flip)
                spread[index] += delta * (mean - mmse[index])
        if spread is not None:
            spread[index] /= len(augmentations)
            np.sqrt(np.clip(spread[index], 0.0, None, out=spread[index]), out=spread[index])
    return Prediction(
        mmse=mmse.reshape(shape),
        map=None if map_image is None else map_image.reshape(shape),
        uncertainty=None if spread is None else spread.reshape(shape),
        samples=kept.reshape((settings.keep_samples, *shape)) if settings.keep_samples else None,
    )


def _map_of(samples: torch.Tensor, origin: tuple[int, int]) -> torch.Tensor:
    return mean_shift_mode(samples, patch_size=MAP_PATCH_SIZE, origin=origin)
