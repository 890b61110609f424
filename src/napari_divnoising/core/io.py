"""Reading images and writing files atomically.

Nothing the user already has is ever overwritten half-way: every file is first written
to a temporary file in the destination folder, then renamed over the target in one step.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["atomic_path", "read_image", "write_tiff"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".npy")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    If the body raises, the temporary file is removed and `path` is left untouched.

    Parameters
    ----------
    path : str or PathLike
        The final destination.

    Yields
    ------
    Path
        Where to write; it keeps the destination's suffix so writers that dispatch on
        it (numpy, tifffile) behave the same.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".partial{target.suffix}", dir=target.parent
    )
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        _flush_to_disk(temporary_path)
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def _flush_to_disk(path: Path) -> None:
    """Make the written bytes durable before the rename makes them visible."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a TIFF or ``.npy`` image as a numpy array.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` or ``.npy`` file.

    Returns
    -------
    ndarray
        The pixel data, in the file's own dtype.

    Raises
    ------
    ValueError
        If the file does not exist, has another format or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"cannot read {path.name}: expected one of {', '.join(IMAGE_SUFFIXES)}")
    try:
        if suffix == ".npy":
            image = np.load(path, allow_pickle=False)
        else:
            import tifffile

            image = tifffile.imread(path)
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    if image.size == 0:
        # tifffile logs and returns an empty array for a file with no readable page.
        raise InputError(
            f"cannot read {path}: the file holds no pixel data (corrupt or truncated?)"
        )
    return image


def write_tiff(
    path: str | os.PathLike, image: np.ndarray, *, metadata: dict | None = None
) -> Path:
    """Write `image` to a TIFF file atomically.

    Parameters
    ----------
    path : str or PathLike
        The destination file.
    image : ndarray
        The pixel data; written as it is (no dtype conversion).
    metadata : dict, optional
        Stored as the TIFF's ImageJ-compatible description.

    Returns
    -------
    Path
        The path written.
    """
    import tifffile

    with atomic_path(path) as temporary:
        # minisblack: a (3, Y, X) stack is three grayscale planes, never an RGB image.
        # metadata must be a dict (not None) for tifffile to record the array's shape.
        tifffile.imwrite(
            temporary, np.asarray(image), photometric="minisblack", metadata=metadata or {}
        )
    return Path(path)
