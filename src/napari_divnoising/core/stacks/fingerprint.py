"""What a stack holds, cheaply: enough to tell one input from another of the same name.

A resumable run must not mix two inputs: ``day1/embryo.tif`` interrupted, then
``day2/embryo.tif`` into the same folder, must not count day 1's planes as done. A full
hash would read the whole stack before any work; :func:`stack_fingerprint` reads a few
planes spread over it (at most :data:`SAMPLED_PLANES`, each at most
:data:`SAMPLED_BYTES`), and adds what the file system says about the source (size and
modification time of a file; file count, total size and newest modification of a store
or folder), which changes whenever any plane is rewritten. Copying a store with ``cp -a``
or ``rsync -a`` keeps its times; a plain copy does not, and is then a new input.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .stack import Stack

__all__ = ["describe_fingerprint", "stack_fingerprint"]

#: Planes read for the content hash: the first, the last and evenly spaced ones between.
SAMPLED_PLANES = 9
#: Bytes of each sampled plane hashed: whole planes up to this, evenly spaced rows beyond.
SAMPLED_BYTES = 4 << 20


def _row_step(plane_shape: tuple[int, ...], itemsize: int) -> int:
    """Every how many rows to hash, so that at most :data:`SAMPLED_BYTES` are read."""
    row_bytes = max(1, int(np.prod(plane_shape[1:])) * itemsize)
    rows = max(1, SAMPLED_BYTES // row_bytes)
    return max(1, -(-plane_shape[0] // rows))


def _content_digest(stack: Stack) -> str:
    digest = hashlib.blake2b(digest_size=16)
    count = min(stack.n_planes, SAMPLED_PLANES)
    step = _row_step(stack.plane_shape, np.dtype(stack.planes.dtype).itemsize)
    for index in np.unique(np.linspace(0, stack.n_planes - 1, count).round().astype(int)):
        rows = stack.planes[int(index), ::step].compute(scheduler="synchronous")
        data = np.ascontiguousarray(np.asarray(rows))
        digest.update(f"{int(index)}:{data.shape}:{data.dtype.str}".encode())
        digest.update(data.tobytes())
    return digest.hexdigest()


def _modification(path: Path) -> dict[str, int] | None:
    """Size and newest modification time of a file, or of every file under a folder."""
    try:
        if path.is_file():
            status = path.stat()
            return {"files": 1, "bytes": status.st_size, "modified_ns": status.st_mtime_ns}
        files = total = newest = 0
        for folder, _, names in os.walk(path):
            for name in names:
                status = os.stat(os.path.join(folder, name))
                files, total = files + 1, total + status.st_size
                newest = max(newest, status.st_mtime_ns)
        return {"files": files, "bytes": total, "modified_ns": newest}
    except OSError:
        return None


def stack_fingerprint(stack: Stack) -> dict[str, Any]:
    """Return a record of what `stack` holds: shape, dtype, sampled content, source times.

    Parameters
    ----------
    stack : Stack
        The input of a run.

    Returns
    -------
    dict
        JSON-ready: ``shape``, ``dtype``, ``sampled`` (a hash of up to
        :data:`SAMPLED_PLANES` planes) and, for a stack on disk, ``source`` (see the
        module's description). Two stacks with equal fingerprints are taken as one input.
    """
    record: dict[str, Any] = {
        "shape": [int(n) for n in stack.planes.shape],
        "dtype": str(np.dtype(stack.planes.dtype)),
        "sampled": _content_digest(stack),
    }
    if stack.source is not None:
        record["source"] = _modification(Path(stack.source.path))
    return record


def describe_fingerprint(fingerprint: dict[str, Any] | None) -> str:
    """Return a fingerprint in words, for messages: ``3 planes of 64×64 uint16, …``."""
    if not isinstance(fingerprint, dict):
        return "an input whose content was not recorded (an older version wrote it)"
    shape = fingerprint.get("shape") or [0, 0, 0]
    words = f"{shape[0]} planes of {shape[-2]}×{shape[-1]} {fingerprint.get('dtype')}"
    source = fingerprint.get("source")
    if isinstance(source, dict) and source.get("modified_ns"):
        when = datetime.datetime.fromtimestamp(source["modified_ns"] / 1e9)
        words += f", last modified {when:%Y-%m-%d %H:%M:%S}"
    return words
