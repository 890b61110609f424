"""Reading images, and writing them atomically (:mod:`.atomic`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .axes import parse_axes, plane_layout, planes_of, read_axes
from .errors import InputError
from .headers import check_tiff_extent, npy_declared
from .limits import check_image

__all__ = [
    "atomic_path",
    "check_planes",
    "image_files",
    "read_image",
    "read_planes",
    "write_tiff",
]

IMAGE_SUFFIXES = (".tif", ".tiff", ".npy")
_NO_PIXELS = "cannot read {}: the file holds no pixel data (corrupt or truncated?)"


def _checked_path(path: str | os.PathLike) -> Path:
    """Return `path` as a Path; raise unless it is an existing file of a format we read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image file not found: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        kind = f"{path.suffix.lower()} files are" if path.suffix else "a file without a suffix is"
        raise InputError(
            f"cannot read {path.name}: {kind} not supported; expected one of "
            f"{', '.join(IMAGE_SUFFIXES)} (save it as TIFF, e.g. in Fiji: File ▸ Save As ▸ Tiff…)"
        )
    return path


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Return the images of `folder` this package can read, sorted by name.

    Hidden files are left out, among them the temporary files of a write that was
    interrupted (``.name.….partial.tif``), which must never be taken for images.

    Parameters
    ----------
    folder : str or PathLike
        A folder.

    Returns
    -------
    list of Path
        Its ``.tif``, ``.tiff`` and ``.npy`` files.

    Raises
    ------
    InputError
        If `folder` is not a folder or holds no such file.
    """
    folder = Path(folder)
    paths = (
        []
        if not folder.is_dir()
        else sorted(
            path
            for path in folder.iterdir()
            if path.is_file()
            and path.suffix.lower() in IMAGE_SUFFIXES
            and not path.name.startswith(".")
        )
    )
    if not paths:
        raise InputError(f"no .tif, .tiff or .npy images found in folder {str(folder)!r}")
    return paths


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
    path = _checked_path(path)
    suffix = path.suffix.lower()
    check_image(*_header(path), name=path.name)  # before numpy or tifffile allocates it
    try:
        if suffix == ".npy":
            image = np.load(path, allow_pickle=False)
        else:
            import tifffile

            image = tifffile.imread(path)
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    if image.size == 0:  # tifffile logs and returns an empty array for no readable page
        raise InputError(_NO_PIXELS.format(path))
    return image


def _axes_of(path: Path, shape: tuple[int, ...], axes: str | None) -> str | None:
    """Return the axes given (checked against `shape`), else the file's own if they fit."""
    if axes is not None:
        return parse_axes(axes, len(shape), name=f"{path.name} (shape {shape})")
    stored = read_axes(path)
    return stored if stored is not None and len(stored) == len(shape) else None


def read_planes(path: str | os.PathLike, *, axes: str | None = None) -> np.ndarray:
    """Read an image and return it as ``(..., Y, X)`` planes, its axes checked.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` or ``.npy`` file.
    axes : str, optional
        The image's axes, one letter per axis of the array read (e.g. ``"TZYX"``);
        by default, those the file's metadata gives (see :func:`~.axes.read_axes`).

    Returns
    -------
    ndarray
        See :func:`~.axes.planes_of`: plane axes first, then Y, X; a single channel
        dropped; a 2-D or 3-D image without axes as it is.

    Raises
    ------
    InputError
        If the file cannot be read, or the image has channels, RGB samples, axes that
        are not independent planes, or 4+ dimensions and no axes.
    SettingsError
        If `axes` is not a valid axes string for this image.
    """
    path = Path(path)
    if axes is not None:
        parse_axes(axes)  # a bad string is named before the file is read
    image = read_image(path)
    return planes_of(image, _axes_of(path, tuple(image.shape), axes), name=path.name)


def check_planes(path: str | os.PathLike, *, axes: str | None = None) -> tuple[int, ...]:
    """Check, from the file's header only, that :func:`read_planes` accepts its axes.

    Parameters
    ----------
    path : str or PathLike
        A ``.tif``/``.tiff`` or ``.npy`` file.
    axes : str, optional
        As for :func:`read_planes`.

    Returns
    -------
    tuple of int
        The shape of the planes :func:`read_planes` will return.

    Raises
    ------
    InputError, SettingsError
        As :func:`read_planes`, for everything but the pixel values.
    """
    path = _checked_path(path)
    if axes is not None:
        parse_axes(axes)
    shape, dtype = _header(path)
    layout = plane_layout(shape, _axes_of(path, shape, axes), name=path.name)[1]
    check_image(layout, dtype, name=path.name)
    return layout


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Return the shape and dtype a TIFF or ``.npy`` file declares, from its header only."""
    try:
        if path.suffix.lower() == ".npy":
            with path.open("rb") as npy:
                size, kind = path.stat().st_size, InputError
                return npy_declared(npy, available=size, limit=size, file=path.name, error=kind)
        import tifffile

        with tifffile.TiffFile(path) as tif:
            if tif.series:
                check_tiff_extent(tif.series[0], size=path.stat().st_size, name=path.name)
                return tuple(int(n) for n in tif.series[0].shape), np.dtype(tif.series[0].dtype)
        raise InputError(_NO_PIXELS.format(path))
    except InputError:
        raise
    except Exception as err:  # numpy and tifffile raise many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err


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
