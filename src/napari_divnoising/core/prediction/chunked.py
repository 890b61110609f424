"""Predict a stack larger than memory into OME-Zarr, plane by plane, resumably.

A run writes, in its output folder, for an input named ``<stem>``:

- ``<stem>_<result>.ome.zarr`` — one OME-Zarr image per result (``mmse``, ``restored``,
  and on request ``map``, ``uncertainty``, ``samples``), one chunk per plane;
- ``<stem>_prediction.json`` — the run's record: the model's fingerprint, the settings, the
  input and the software; written before the first plane;
- ``<stem>_prediction.done/`` — one empty file per finished plane, created only after
  every result of that plane is on disk; removed when the whole stack is done.

Started again with the same model and settings, a run computes only the planes without
such a file: a plane being written when the process died is simply computed again (zarr
renames each chunk into place, so no chunk is ever half-written). Outputs of another model
or other settings are never overwritten unless the caller says so.

Planes run in this process, or on a dask cluster (:mod:`.cluster`). Each plane's latent
noise is seeded by its index (:mod:`.planes`), so both give the same result.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OutputError
from ..io import atomic_path
from ..output_lock import check_unlocked
from ..outputs import check_spares_inputs
from ..provenance import model_fingerprint
from ..stacks.fingerprint import describe_fingerprint, stack_fingerprint
from ..stacks.zarr_store import (
    create_result_image,
    ome_axes,
    read_record,
    result_array,
    write_plane,
)
from .results import result_names

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from ..stacks import Stack
    from .config import SamplingConfig

__all__ = [
    "ChunkedOutput",
    "create_output",
    "plan_output",
    "run_identity",
]


@dataclass(frozen=True)
class ChunkedOutput:
    """Where one stack's results go (small and picklable: dask workers receive it).

    Attributes
    ----------
    folder : str
        The output folder.
    stem : str
        The input's name, the prefix of every output.
    names : tuple of str
        The results written.
    layout : tuple of int
        The input's plane layout (plane axes, then Y, X).
    """

    folder: str
    stem: str
    names: tuple[str, ...]
    layout: tuple[int, ...]

    def image_path(self, name: str) -> Path:
        """Return the OME-Zarr image of result `name`."""
        return Path(self.folder) / f"{self.stem}_{name}.ome.zarr"

    @property
    def record_path(self) -> Path:
        """The run's record (shared with the TIFF outputs of ``divnoising predict``)."""
        return Path(self.folder) / f"{self.stem}_prediction.json"

    @property
    def done_folder(self) -> Path:
        """The folder of the finished planes' marker files."""
        return Path(self.folder) / f"{self.stem}_prediction.done"

    def paths(self) -> list[Path]:
        """Return every path the run writes."""
        images = [self.image_path(name) for name in self.names]
        return [*images, self.record_path, self.done_folder]

    def done_planes(self) -> set[int]:
        """Return the indices of the planes whose every result is on disk."""
        if self._record().get("complete"):
            return set(range(int(np.prod(self.layout[:-2], dtype=np.int64))))
        if not self.done_folder.is_dir():
            return set()
        return {int(p.name) for p in self.done_folder.iterdir() if p.name.isdigit()}

    def store_plane(self, index: int, results: dict[str, np.ndarray]) -> None:
        """Write every result of plane `index`, then mark the plane done.

        Raises
        ------
        OutputError
            If a result cannot be written.
        """
        position = tuple(int(i) for i in np.unravel_index(index, self.layout[:-2]))
        for name in self.names:
            write_plane(result_array(self.image_path(name)), position, results[name])
        # The marker comes last: a plane is done only once all its chunks are in place.
        (self.done_folder / str(index)).touch()

    def finish(self) -> None:
        """Mark the whole run complete in its record and drop the marker files."""
        record = self._record()
        record["complete"] = True
        _write_json(self.record_path, record)
        shutil.rmtree(self.done_folder, ignore_errors=True)

    def _record(self) -> dict[str, Any]:
        try:
            return json.loads(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def run_identity(model: TrainedModel, settings: SamplingConfig, stack: Stack) -> dict[str, Any]:
    """Return what must match for a run to resume another: model, settings, input.

    The input is identified by its content (:func:`~..stacks.fingerprint.stack_fingerprint`),
    not its name: another file of the same name is another input.
    """
    return {
        "model_fingerprint": model_fingerprint(model),
        "settings": settings.model_dump(mode="json"),
        "input": {
            "name": stack.name,
            "layout": list(stack.layout),
            "axes": stack.axes,
            "fingerprint": stack_fingerprint(stack),
        },
    }


def plan_output(
    stack: Stack,
    folder: str | os.PathLike,
    identity: dict[str, Any],
    *,
    settings: SamplingConfig,
    stem: str,
    overwrite: bool = False,
    inputs: tuple[str | os.PathLike, ...] = (),
) -> tuple[ChunkedOutput, bool]:
    """Name a run's outputs and check them against what the folder holds; write nothing.

    Parameters
    ----------
    stack : Stack
        The input.
    folder : str or PathLike
        The output folder.
    identity : dict
        From :func:`run_identity`.
    settings : SamplingConfig
        The run's settings.
    stem : str
        The prefix of the outputs.
    overwrite : bool
        Whether the outputs of a different run may be replaced.
    inputs : tuple of path-like
        Files the run reads besides the stack (the model, the other inputs of a command):
        never written, replaced or written into, like the stack's own source.

    Returns
    -------
    output : ChunkedOutput
    resume : bool
        Whether the folder holds this very run, to be resumed.

    Raises
    ------
    OutputError
        If the outputs exist from another model, other settings, another input or another
        program (and `overwrite` is False), are not ours to replace, would change an input
        (whatever `overwrite` says), or another run is writing them now.
    """
    names = tuple(result_names(settings))
    output = ChunkedOutput(str(folder), stem, names, tuple(stack.layout))
    own = () if stack.source is None else (stack.source.path,)
    check_spares_inputs(output.paths(), inputs=(*own, *inputs), folder=folder)
    check_unlocked(folder, stem)
    previous = output._record()
    resume = {key: previous.get(key) for key in identity} == identity
    existing = [path for path in output.paths() if path.exists()]
    if existing and not resume:
        if not overwrite:
            raise OutputError(_conflict(existing[0], previous, identity))
        _check_ours(existing)
    return output, resume


def create_output(
    output: ChunkedOutput,
    stack: Stack,
    identity: dict[str, Any],
    *,
    settings: SamplingConfig,
    resume: bool,
    extra_record: dict[str, Any] | None = None,
) -> None:
    """Create the outputs :func:`plan_output` named (replacing another run's), or reopen them.

    Raises
    ------
    OutputError
        If they cannot be written.
    """
    record = {**identity, **(extra_record or {})}
    if not resume:
        _remove([path for path in output.paths() if path.exists()])
        Path(output.folder).mkdir(parents=True, exist_ok=True)
        _write_json(output.record_path, {**record, "complete": False})
    output.done_folder.mkdir(exist_ok=True)
    for name in output.names:
        if output.image_path(name).exists():
            continue
        shape = (settings.keep_samples, *stack.layout) if name == "samples" else stack.layout
        create_result_image(
            output.image_path(name),
            shape=shape,
            axes=ome_axes(stack.axes, len(shape), samples=name == "samples"),
            scale={axis.lower(): size for axis, size in stack.scale.items()},
            name=name,
            record=record,
        )


def _conflict(path: Path, previous: dict[str, Any], identity: dict[str, Any]) -> str:
    if not previous and read_record(path) is None:
        why = "was not written by napari-divnoising"
    elif previous.get("model_fingerprint") != identity["model_fingerprint"]:
        why = "holds the prediction of a different model"
    elif previous.get("settings") != identity["settings"]:
        why = "was predicted with other settings"
    else:
        before = previous.get("input") or {}
        why = (
            f"holds the results of another input, {before.get('name')!r} "
            f"({describe_fingerprint(before.get('fingerprint'))}; read from "
            f"{previous.get('input_path') or 'memory'}), not of this one "
            f"({describe_fingerprint(identity['input']['fingerprint'])})"
        )
    return (
        f"{path} exists and {why}; nothing was overwritten — choose another output folder, "
        "or pass --overwrite to replace it"
    )


def _check_ours(existing: list[Path]) -> None:
    """Refuse to replace a zarr store that no run of ours wrote."""
    for path in existing:
        if path.is_dir() and path.suffix == ".zarr" and read_record(path) is None:
            raise OutputError(
                f"{path} was not written by napari-divnoising; refusing to replace it even "
                "with --overwrite — remove it yourself or choose another output folder"
            )


def _remove(existing: list[Path]) -> None:
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _write_json(path: Path, record: dict[str, Any]) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
