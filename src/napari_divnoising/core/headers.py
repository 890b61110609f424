"""What a ``.npy`` or TIFF header declares, checked before numpy or tifffile allocates it.

Both formats state an array's shape, or a strip's length, before its bytes; numpy and
tifffile allocate what is stated. These checks hold the statement to the file's own size
and to :mod:`.limits`.
"""

from __future__ import annotations

import math
from typing import IO, Any

import numpy as np

from .errors import DivNoisingError, InputError
from .limits import size_text

__all__ = ["check_tiff_extent", "npy_declared"]


def npy_declared(
    stream: IO[bytes], *, available: int, limit: int, file: object, error: type[DivNoisingError]
) -> tuple[tuple[int, ...], np.dtype]:
    """Read a ``.npy`` header from `stream`; refuse more data than there is, or than `limit`.

    Parameters
    ----------
    stream : binary file
        Positioned at the start of the ``.npy`` data.
    available : int
        Bytes the stream holds, header included.
    limit : int
        The most bytes the array may take.
    file : object
        How the file is named in messages.
    error : type
        The error to raise (:class:`ModelFileError` or :class:`InputError`).

    Returns
    -------
    tuple
        The declared shape and dtype.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}[version]
        shape, _, dtype = read(stream)
    except (ValueError, KeyError, EOFError, SyntaxError, TypeError) as err:
        raise error(f"{file} could not be read as a .npy array ({type(err).__name__})") from err
    if any(n < 0 for n in shape) or dtype.hasobject:
        raise error(
            f"{file} could not be read: it declares shape {shape}, dtype {dtype}, not an "
            "array of numbers"
        )
    n_bytes = math.prod(shape) * dtype.itemsize
    if n_bytes > available - stream.tell():
        raise error(
            f"{file} declares a {dtype} array of shape {shape} ({size_text(n_bytes)}) but "
            f"holds at most {size_text(max(available - stream.tell(), 0))}"
        )
    if n_bytes > limit:
        raise error(
            f"{file} declares a {dtype} array of shape {shape} ({size_text(n_bytes)}); "
            f"at most {size_text(limit)} is read"
        )
    return tuple(shape), dtype


def check_tiff_extent(series: Any, *, size: int, name: str) -> None:
    """Refuse a TIFF series whose header puts pixel data beyond the end of its file.

    A strip's or tile's length is read as declared, so a 16-pixel page may ask for
    gigabytes; pages stored in other files (multi-file OME-TIFF) are not looked at.

    Parameters
    ----------
    series : tifffile.TiffPageSeries
        The series to be read.
    size : int
        The file's size in bytes.
    name : str
        How the file is called in messages.
    """
    ends = [series.dataoffset + series.nbytes] if series.dataoffset is not None else []
    for page in series.pages:
        if page is not None and getattr(page, "parent", None) is series.parent:
            ends += [o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=False)]
    if max(ends, default=0) > size:
        raise InputError(
            f"cannot read {name}: it declares pixel data up to byte {max(ends):,}, beyond "
            f"its end at {size:,} bytes (damaged or truncated?)"
        )
