"""Predict a stack of any size into OME-Zarr: in this process, or on a dask cluster.

The one recipe behind ``divnoising predict --format ome-zarr``, the Sampling dock's
"whole stack" and :meth:`~napari_divnoising.api.DivNoising.predict_to_zarr`. Memory is
bounded by one plane per process, whatever the stack's size; a stopped run resumes
where it stopped (see :mod:`.chunked`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..events import Progress, blocking
from ..model_files.resolve import as_trained_model
from ..output_lock import holding_lock
from ..outputs import check_output_name
from ..provenance import software_record
from ..stacks import Stack, open_stack, stack_from_array
from .chunked import create_output, plan_output, run_identity
from .cluster import connect, iter_on_cluster, scheduler_arguments
from .config import sampling_config
from .planes import plane_predictor
from .posterior import SampleCount
from .results import StackPrediction

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from .chunked import ChunkedOutput
    from .config import SamplingConfig

__all__ = ["iter_predict_to_zarr", "iter_stack_to_zarr", "output_stem", "predict_to_zarr"]


def _as_stack(image: Any, axes: str | None) -> Stack:
    if isinstance(image, Stack):
        return image
    if isinstance(image, str | os.PathLike):
        return open_stack(image, axes=axes)
    return stack_from_array(image, axes=axes)


def output_stem(name: str | os.PathLike) -> str:
    """Return the prefix of the outputs of an input called `name` (its suffix dropped).

    Examples
    --------
    >>> output_stem("data/embryo.ome.zarr")
    'embryo'
    """
    name = Path(name).name
    for suffix in (".ome.zarr", ".zarr", ".ome.tiff", ".ome.tif", ".tiff", ".tif", ".npy"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "image"
    return name or "image"


def iter_predict_to_zarr(
    image: Any,
    model: TrainedModel | str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    axes: str | None = None,
    stem: str | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    device: str | None = None,
    model_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Generator[Progress, None, StackPrediction]:
    """Sample the posterior of every plane of a stack into OME-Zarr images, resumably.

    Inputs and outputs are checked when this function is called, before any work.

    Parameters
    ----------
    image : path-like, array or Stack
        A TIFF, ``.npy``, zarr / OME-Zarr or folder of images (opened lazily), or a numpy,
        dask or zarr array (a napari layer's data).
    model : TrainedModel or path-like
        The trained model, or its ``.divnoising`` file.
    folder : path-like
        The output folder; ``<stem>_<result>.ome.zarr`` are written there.
    axes : str, optional
        The input's axes, one letter per axis (default: from its metadata).
    stem : str, optional
        The outputs' prefix (default: the input's name without its suffix).
    overwrite : bool
        Replace outputs of another model or other settings (never a foreign store).
    scheduler : str, optional
        ``"local"``, ``"tcp://HOST:PORT"`` or a scheduler file: run the planes on a dask
        cluster (see :func:`.cluster.connect`); None: in this process. Needs a path input.
    n_workers : int, optional
        Worker processes of a ``"local"`` cluster.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; default: a GPU if there is one.
    model_file : path-like, optional
        Recorded as the model's file when `model` is a loaded model.
    **options
        Sampling settings (:class:`~.config.SamplingConfig`: ``n_samples``, ``seed``, …).

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns a
        :class:`~.chunked.StackPrediction`.

    Raises
    ------
    InputError
        If the input cannot be read or is not a stack of planes, the scheduler cannot be
        reached, or a cluster is asked for an in-memory input.
    OutputError
        If the outputs exist from another run (without `overwrite`), or cannot be written.
    SettingsError
        If a setting is out of range.
    """
    return iter_stack_to_zarr(
        image,
        model,
        folder,
        sampling_config(**options),
        axes=axes,
        stem=stem,
        overwrite=overwrite,
        scheduler=scheduler,
        n_workers=n_workers,
        device=device,
        model_file=model_file,
    )


def iter_stack_to_zarr(
    image: Any,
    model: TrainedModel | str | os.PathLike[str],
    folder: str | os.PathLike[str],
    settings: SamplingConfig,
    *,
    axes: str | None = None,
    stem: str | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    device: str | None = None,
    model_file: str | os.PathLike[str] | None = None,
    inputs: tuple[str | os.PathLike[str], ...] = (),
) -> Generator[Progress, None, StackPrediction]:
    """:func:`iter_predict_to_zarr` with its settings in a :class:`~.config.SamplingConfig`.

    What the prediction recipe calls; inputs and outputs are checked when it is called.
    `inputs` (and the model's file) are never written, replaced or written into.
    """
    if isinstance(model, str | os.PathLike):
        model_file = model
    model = as_trained_model(model)
    stack = _as_stack(image, axes)
    if scheduler is not None and stack.source is None:
        raise InputError(
            "a dask cluster reads the stack from disk: give a file, zarr store or folder "
            "(save the layer as OME-Zarr first)"
        )
    if scheduler not in (None, "local"):
        scheduler_arguments(scheduler)  # a mistyped address is said before any work
    check_stack(stack, model)
    identity = run_identity(model, settings, stack)
    output, resume = plan_output(
        stack,
        folder,
        identity,
        settings=settings,
        stem=output_stem(stack.name) if stem is None else check_output_name(stem),
        overwrite=overwrite,
        inputs=(*inputs, *([] if model_file is None else [model_file])),
    )
    extra = {
        "input_path": None if stack.source is None else str(Path(stack.source.path).resolve()),
        "model_file": None if model_file is None else str(Path(model_file).resolve()),
        "software": software_record(),
    }
    create = functools.partial(
        create_output,
        output,
        stack,
        identity,
        settings=settings,
        resume=resume,
        extra_record=extra,
    )
    cluster = {"scheduler": scheduler, "n_workers": n_workers}
    cluster["model_key"] = identity["model_fingerprint"]
    return _while_locked(output, _run(stack, model, output, create, settings, cluster, device))


def _while_locked(
    output: ChunkedOutput, run: Generator[Progress, None, StackPrediction]
) -> Generator[Progress, None, StackPrediction]:
    """Run `run` holding the outputs' lock, released however the run ends."""
    Path(output.folder).mkdir(parents=True, exist_ok=True)
    with holding_lock(output.folder, output.stem):
        return (yield from run)


def _run(
    stack: Stack,
    model: TrainedModel,
    output: ChunkedOutput,
    create: Callable[[], None],
    settings: SamplingConfig,
    cluster: dict[str, Any],
    device: str | None,
) -> Generator[Progress, None, StackPrediction]:
    create()
    done = output.done_planes()
    todo = [index for index in range(stack.n_planes) if index not in done]
    if done:
        yield Progress(
            "resuming",
            len(done),
            stack.n_planes,
            message=f"{len(done)} of {stack.n_planes} planes already done; computing {len(todo)}",
        )
    computed = 0
    if todo and cluster["scheduler"] is None:
        computed = yield from iter_in_process(
            stack, model, output, todo, settings=settings, device=device
        )
    elif todo:
        with connect(cluster["scheduler"], n_workers=cluster["n_workers"]) as client:
            computed = yield from iter_on_cluster(
                client,
                stack.source,
                model,
                output,
                todo,
                settings=settings,
                device=device,
                model_key=cluster["model_key"],
            )
    output.finish()
    images = {name: output.image_path(name) for name in output.names}
    return StackPrediction(images, output.record_path, stack.n_planes, computed)


predict_to_zarr = blocking(iter_predict_to_zarr)


def check_stack(stack: Stack, model: TrainedModel) -> None:
    """Check a stack from its header and first plane, before any work.

    Raises
    ------
    InputError
        If its planes are smaller than the network's size multiple, or the first plane is
        not finite or is constant.
    """
    multiple = int(model.network.size_multiple)
    height, width = stack.plane_shape
    if min(height, width) < multiple:
        raise InputError(
            f"the planes of {stack.name} are {height}×{width} pixels; at least "
            f"{multiple}×{multiple} is needed"
        )
    first = stack.read_plane(0)
    if model.noise_model is not None:
        model.noise_model.check_signal_range(first, name=f"{stack.name} (first plane)")


def iter_in_process(
    stack: Stack,
    model: TrainedModel,
    output: ChunkedOutput,
    todo: list[int],
    *,
    settings: SamplingConfig,
    device: Any,
) -> Generator[Progress, None, int]:
    """Compute the planes `todo` in this process; yield progress; return how many."""
    sampler = plane_predictor(model, settings, stack.plane_shape, device=device)
    count = SampleCount(len(todo) * sampler.samples_per_plane)
    for index in todo:
        results = yield from sampler.iter_plane(stack.read_plane(index), index, count)
        output.store_plane(index, results)
    return len(todo)
