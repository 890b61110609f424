"""Step 3's recipe: sample the posterior of an image where the caller wants the results.

The Sampling dock, ``divnoising predict``, the demo and the scripting API all call
:func:`iter_predict`; it alone chooses how the work is done:

- no target: every plane of an image in memory, results in memory (:class:`Prediction`);
- :class:`PlaneTarget`: one plane of a (lazy) stack, e.g. the plane on display, seeded by
  its index so it equals that plane of the whole stack's prediction (:class:`Prediction`
  of that plane);
- :class:`ZarrTarget`: every plane of a stack of any size into OME-Zarr images, resumably,
  in this process or on a dask cluster (:class:`StackPrediction`).

Settings arrive as one :class:`~.config.SamplingConfig`, validated once when it is built.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..events import Progress, blocking
from ..model_files.resolve import as_trained_model
from ..stacks import Stack, stack_from_array
from .planes import iter_sample_stack_plane
from .results import Prediction, StackPrediction
from .sampling import iter_sample_image
from .to_zarr import iter_stack_to_zarr

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from .config import SamplingConfig

__all__ = ["PlaneTarget", "ZarrTarget", "iter_predict", "predict"]


@dataclass(frozen=True)
class PlaneTarget:
    """Only one plane of a stack, returned in memory.

    Attributes
    ----------
    index : int
        The plane, counted over all leading axes in C order.
    """

    index: int


@dataclass(frozen=True)
class ZarrTarget:
    """Every plane of a stack, written one at a time into OME-Zarr images.

    Attributes
    ----------
    folder : path-like
        The output folder; ``<stem>_<result>.ome.zarr`` are written there.
    stem : str, optional
        The outputs' prefix (default: the input's name without its suffix).
    overwrite : bool
        Replace outputs of another model or other settings (never a foreign store).
    scheduler : str, optional
        ``"local"``, ``"tcp://HOST:PORT"`` or a scheduler file: a dask cluster; None: here.
    n_workers : int, optional
        Worker processes of a ``"local"`` cluster.
    model_file : path-like, optional
        Recorded as the model's file when the model is passed loaded.
    inputs : tuple of path-like
        Other files the caller reads (a command's other inputs): never written or replaced.
    """

    folder: str | os.PathLike[str]
    stem: str | None = None
    overwrite: bool = False
    scheduler: str | None = None
    n_workers: int | None = None
    model_file: str | os.PathLike[str] | Path | None = None
    inputs: tuple[str | os.PathLike[str], ...] = ()


def iter_predict(
    image: Any,
    model: TrainedModel | str | os.PathLike[str],
    settings: SamplingConfig,
    *,
    target: PlaneTarget | ZarrTarget | None = None,
    axes: str | None = None,
    device: str | None = None,
) -> Generator[Progress, None, Prediction | StackPrediction]:
    """Sample the posterior of `image` with `settings`, into memory or OME-Zarr.

    Inputs (and, for OME-Zarr, outputs) are checked when this function is called, before
    any work starts.

    Parameters
    ----------
    image : array_like, Stack or path-like
        An image or stack in memory; with a target also a lazy :class:`Stack`, and with a
        :class:`ZarrTarget` a file, zarr store or folder (opened lazily).
    model : TrainedModel or path-like
        The trained model, or its ``.divnoising`` file.
    settings : SamplingConfig
        What to draw and return.
    target : PlaneTarget or ZarrTarget, optional
        Only one plane, or every plane into OME-Zarr; None: every plane, in memory.
    axes : str, optional
        The input's axes, one letter per axis (default: from its metadata).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default: a GPU if there is one.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns a
        :class:`Prediction`, or a :class:`StackPrediction` for a :class:`ZarrTarget`.
    """
    if isinstance(target, ZarrTarget):
        return iter_stack_to_zarr(
            image,
            model,
            target.folder,
            settings,
            axes=axes,
            stem=target.stem,
            overwrite=target.overwrite,
            scheduler=target.scheduler,
            n_workers=target.n_workers,
            device=device,
            model_file=target.model_file,
            inputs=target.inputs,
        )
    if isinstance(target, PlaneTarget):
        stack = image if isinstance(image, Stack) else stack_from_array(image, axes=axes)
        model = as_trained_model(model)
        return iter_sample_stack_plane(
            stack, target.index, model, _without_samples(settings), device=device
        )
    return iter_sample_image(image, model, settings, device=device)


predict = blocking(iter_predict)


def _without_samples(settings: SamplingConfig) -> SamplingConfig:
    """One plane's results are ``(Y, X)`` images: there is no sample axis to keep samples."""
    return settings.model_copy(update={"keep_samples": 0})
