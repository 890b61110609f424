"""Limits on what a file we did not write may declare, checked before anything is built.

A model bundle, a noise-model file, a bioimage.io package, a zarr store or a TIFF header
states sizes (a network's widths, a zip member's length, an array's shape) long before the
bytes that would fill them. A crafted file of a few kilobytes can declare gigabytes, so
every reader of a foreign file checks the declared sizes here first, against the limits
below and the machine's memory, and raises the project's own error in one line that
names the file, what it declares and the limit.

The limits are generous: each is far above anything this package writes or reads in
practice, and says why it is where it is.
"""

from __future__ import annotations

import functools
import json
import math
import os
import zipfile
from typing import Any

import numpy as np

from .errors import DivNoisingError, InputError, ModelFileError

__all__ = [
    "MAX_CHUNKS_PER_PLANE",
    "MAX_COMPRESSION_RATIO",
    "MAX_DESCRIPTION_BYTES",
    "MAX_DESCRIPTION_VALUES",
    "MAX_METADATA_BYTES",
    "MAX_MODEL_JSON_BYTES",
    "MAX_NESTING",
    "MAX_NETWORK_PARAMETERS",
    "MAX_NOISE_MODEL_BYTES",
    "MAX_PLANES",
    "MAX_PLANE_PIXELS",
    "PARAMETER_BYTES",
    "WEIGHTS_SLACK_BYTES",
    "check_image",
    "check_in_memory",
    "check_member",
    "check_nesting",
    "check_stack",
    "loads_json",
    "physical_memory",
    "read_member",
    "size_text",
]

#: Parameters of a network a model file may declare. Training with Adam keeps at least 16
#: bytes per parameter (weights, gradients, two moments): 10⁹ parameters are 16 GB before
#: any activation, about the most one large GPU trains. Our largest sensible network (5
#: levels of 64 filters, two residual blocks) has 1.3·10⁸.
MAX_NETWORK_PARAMETERS = 1_000_000_000
#: Bytes a stored parameter takes at least (float16) and at most (float64).
PARAMETER_BYTES = (2, 8)
#: The container around the weights: torch's zip records, names and pickle, 64-byte
#: aligned, a few hundred bytes per tensor for at most a few hundred tensors.
WEIGHTS_SLACK_BYTES = 16 * 2**20
#: ``model.json``: the configurations and one small record per epoch; 64 MiB hold some
#: 200,000 epochs, a hundred times a long training's.
MAX_MODEL_JSON_BYTES = 64 * 2**20
#: The largest histogram noise model our settings allow (3 × 4096 × 4096 float64, 384 MiB)
#: plus its metadata; a Gaussian mixture's arrays are a few hundred numbers.
MAX_NOISE_MODEL_BYTES = 3 * 4096 * 4096 * 8 + 2**20
#: A bioimage.io description (``rdf.yaml``) is a few kilobytes of text.
MAX_DESCRIPTION_BYTES = 4 * 2**20
#: Values of a description once its YAML aliases are expanded: a real one has hundreds.
#: The bound is on the expanded count, so aliases stay readable but cannot multiply.
MAX_DESCRIPTION_VALUES = 100_000
#: A zarr / OME-Zarr metadata file (``zarr.json``, ``.zattrs``): kilobytes for an image,
#: hundreds of kilobytes for a plate of thousands of wells.
MAX_METADATA_BYTES = 16 * 2**20
#: Nesting of JSON or YAML values: our files nest 4 deep, OME metadata 6.
MAX_NESTING = 64
#: Uncompressed bytes per compressed byte of a zip member: deflate cannot exceed 1032:1,
#: so a higher ratio is a member built to expand (another method, or a forged header).
MAX_COMPRESSION_RATIO = 1100
#: Pixels of one plane: 65,536 × 65,536, 16 GiB as float32. A plane is read and sampled
#: whole, with several float32 copies (input, mean, uncertainty); a larger plane is a
#: mosaic, to be split into tiles (planes of a stack) first.
MAX_PLANE_PIXELS = 2**32
#: Planes of one stack: opening costs about a microsecond per plane (dask's index of its
#: chunks), 10 s at this count; at a second per plane, sampling them takes four months.
MAX_PLANES = 10**7
#: Chunks a plane is stored in: the largest plane in chunks of 64 × 64 (or a TIFF of one
#: row per strip, a million rows high). Reading a plane runs one task per chunk, so chunks
#: of a few pixels would turn one read into billions of tasks.
MAX_CHUNKS_PER_PLANE = 2**20


def size_text(n_bytes: float) -> str:
    """Return `n_bytes` in words: ``"3.0 GiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


@functools.cache
def physical_memory() -> int | None:
    """Return this machine's memory in bytes, or None where the system does not say."""
    try:  # psutil knows on every OS; os.sysconf does not exist on Windows
        import psutil

        return int(psutil.virtual_memory().total)
    except (ImportError, OSError, RuntimeError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_in_memory(
    n_bytes: int, *, what: str, file: object, error: type[DivNoisingError] = InputError
) -> None:
    """Refuse `what` of `file` if its `n_bytes` exceed this machine's memory."""
    memory = physical_memory()
    if memory is not None and n_bytes > memory:
        raise error(
            f"{file}: {what} needs {size_text(n_bytes)} in memory; this machine has at most "
            f"{size_text(memory)}"
        )


def check_member(info: zipfile.ZipInfo, *, limit: int, file: object) -> None:
    """Refuse a zip member longer than `limit` bytes, or compressed beyond deflate's reach.

    Raises
    ------
    ModelFileError
        Naming `file`, the member, its declared size and the limit.
    """
    if info.file_size > limit:
        raise ModelFileError(
            f"{file}: its member {info.filename} declares {size_text(info.file_size)}; "
            f"it may hold at most {size_text(limit)}"
        )
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise ModelFileError(
            f"{file}: its member {info.filename} expands {size_text(info.compress_size)} to "
            f"{size_text(info.file_size)}; a member may expand at most "
            f"{MAX_COMPRESSION_RATIO}-fold"
        )


def read_member(archive: zipfile.ZipFile, name: str, *, limit: int, file: object) -> bytes:
    """Return the bytes of member `name` after :func:`check_member`; KeyError if absent."""
    check_member(archive.getinfo(name), limit=limit, file=file)
    return archive.read(name)


def check_nesting(
    value: Any, *, file: object, what: str, error: type[DivNoisingError] = ModelFileError
) -> None:
    """Refuse `value` (parsed JSON or YAML) nested deeper than :data:`MAX_NESTING`."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_NESTING:
            raise error(f"{file}: {what} nests deeper than {MAX_NESTING} levels, the most allowed")
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list, tuple)):
            pending.extend((child, depth + 1) for child in children)


def loads_json(
    data: bytes | str, *, file: object, what: str, error: type[DivNoisingError] = ModelFileError
) -> Any:
    """Parse JSON `data` with its nesting bounded; a damaged text raises `error`."""
    try:
        value = json.loads(data)
    except RecursionError as err:
        raise error(
            f"{file}: {what} nests deeper than {MAX_NESTING} levels, the most allowed"
        ) from err
    except ValueError as err:  # also UnicodeDecodeError
        raise error(f"{file}: {what} is damaged ({err})") from err
    check_nesting(value, file=file, what=what, error=error)
    return value


def check_stack(
    planes: tuple[int, ...],
    *,
    chunks: tuple[int, int] | None = None,
    itemsize: int = 4,
    name: str,
) -> None:
    """Refuse a stack whose plane, plane count or chunking exceeds the limits above.

    Parameters
    ----------
    planes : tuple of int
        The stack's layout: the plane axes, then Y, X.
    chunks : tuple of int, optional
        The stored chunk's Y, X sides, where the array is chunked.
    itemsize : int
        Bytes per stored pixel.
    name : str
        How the stack is called in messages.

    Raises
    ------
    InputError
        Naming the stack, what it declares and the limit.
    """
    (height, width), n_planes = planes[-2:], math.prod(planes[:-2])
    pixels = height * width
    if pixels > MAX_PLANE_PIXELS:
        raise InputError(
            f"{name} declares planes of {height} × {width} pixels; a plane may have at "
            f"most {MAX_PLANE_PIXELS:,} pixels (65536 × 65536): split it into tiles"
        )
    if n_planes > MAX_PLANES:
        raise InputError(f"{name} declares {n_planes:,} planes; a stack may have at most "
                         f"{MAX_PLANES:,}")  # fmt: skip
    if chunks is not None and min(chunks) > 0:
        count = math.ceil(height / chunks[0]) * math.ceil(width / chunks[1])
        if count > MAX_CHUNKS_PER_PLANE:
            raise InputError(
                f"{name} stores each plane in {count:,} chunks of {chunks[0]} × {chunks[1]} "
                f"pixels; at most {MAX_CHUNKS_PER_PLANE:,} chunks per plane are read"
            )
    what = f"one plane ({height} × {width} pixels, in float32 and as stored)"
    check_in_memory(pixels * (4 + itemsize), what=what, file=name)


def check_image(layout: tuple[int, ...], dtype: np.dtype, *, name: str) -> None:
    """Refuse an image read whole whose planes (:func:`check_stack`) or size exceed the limits.

    Parameters
    ----------
    layout : tuple of int
        Its shape, or its planes' layout (the plane axes, then Y, X) where known.
    dtype : numpy.dtype
        The stored dtype.
    name : str
        How the image is called in messages.
    """
    if len(layout) >= 2:
        check_stack(layout, itemsize=dtype.itemsize, name=name)
    what = f"its image ({' × '.join(map(str, layout))} {dtype}, and a float32 copy)"
    check_in_memory(math.prod(layout) * (dtype.itemsize + 4), what=what, file=name)
