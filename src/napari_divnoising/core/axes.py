"""Which axis of an image is which: read from the file, or given by the user, then checked.

DivNoising denoises 2-D (Y, X) planes; every other axis must be one along which the planes
are independent images: time (T), depth (Z), or other planes (Q, and tifffile's I for a
plain sequence of pages). A channel axis (C) longer than 1 or RGB samples (S) are refused,
because each channel has its own noise and needs its own model; a C of length 1 is dropped.

Without axes (a ``.npy`` file, or a TIFF whose metadata names no axis), 2-D and 3-D
arrays are taken as today, as one plane and as a stack of planes; a 4-D or larger array
is refused, because guessing which axis is the channel would silently mix channels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import InputError, SettingsError

__all__ = [
    "AXES_LETTERS",
    "layer_axes",
    "parse_axes",
    "plane_layout",
    "planes_of",
    "read_axes",
]

#: The letters a user may give in ``--axes``.
AXES_LETTERS = "TZCYXSQ"
#: Axes along which the planes are independent images (I: tifffile's page sequence).
PLANE_LETTERS = "TZQI"
#: Axes of length 1 that are dropped (a longer one is refused).
SINGLE_LETTERS = "CS"
#: How each letter is called in messages (tifffile's names, OME's and ImageJ's letters).
AXIS_NAMES = {
    "T": "time", "Z": "depth", "C": "channel", "Y": "height", "X": "width",
    "S": "RGB sample", "Q": "other", "I": "sequence", "A": "angle", "P": "phase",
    "R": "tile", "H": "lifetime", "E": "lambda", "L": "exposure", "V": "event",
    "M": "mosaic", "J": "column", "K": "row",
}  # fmt: skip
_SPLIT_CHANNELS = (
    "split the channels (e.g. in Fiji: Image ▸ Color ▸ Split Channels) and denoise each"
)


def _example(ndim: int) -> str:
    """Return a plausible axes string of `ndim` letters, for messages."""
    return "TZCQ"[: max(ndim - 2, 0)] + "YX"


def read_axes(path: str | os.PathLike) -> str | None:
    """Return the axes the file's metadata gives its image, or None if it gives none.

    Parameters
    ----------
    path : str or PathLike
        An image file. TIFF files are asked through tifffile (OME-TIFF, ImageJ
        hyperstacks and tifffile's own shaped TIFFs name their axes).

    Returns
    -------
    str or None
        One letter per axis of the array :func:`~.io.read_image` returns, e.g.
        ``"TZYX"``; None for a ``.npy`` file, or when tifffile only guesses (every axis
        besides Y and X is unknown, ``Q``, or a plain page sequence, ``I``).

    Raises
    ------
    InputError
        If the TIFF cannot be read.
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            axes = str(tif.series[0].axes).upper()
    except Exception as err:  # tifffile raises many types for broken files
        raise InputError(f"cannot read {path}: {err}") from err
    return None if set(axes) <= set("YXQI") else axes


def parse_axes(text: str, ndim: int | None = None, *, name: str = "the image") -> str:
    """Validate a user's ``--axes`` string and return it in capitals.

    Parameters
    ----------
    text : str
        One letter per axis, from ``TZCYXSQ`` (case does not matter), e.g. ``"tzyx"``.
    ndim : int, optional
        The number of axes of the image it describes; checked when given.
    name : str
        How the image is called in the message about a wrong length.

    Returns
    -------
    str
        The axes in capitals, e.g. ``"TZYX"``.

    Raises
    ------
    SettingsError
        If a letter is unknown or repeated, Y or X is missing, or the length is not `ndim`.
    """
    axes = text.strip().upper()
    example = _example(ndim or 4)
    if not axes:
        raise SettingsError(f"--axes is empty; give one letter per axis, e.g. --axes {example}")
    unknown = sorted(set(axes) - set(AXES_LETTERS))
    if unknown:
        raise SettingsError(
            f"--axes {text}: unknown letter(s) {', '.join(unknown)}; use T (time), Z (depth), "
            f"C (channel), Q (other planes), S (RGB samples), Y and X, e.g. --axes {example}"
        )
    repeated = sorted({letter for letter in axes if axes.count(letter) > 1})
    if repeated:
        raise SettingsError(
            f"--axes {text} names {', '.join(repeated)} more than once; "
            f"give each axis once, e.g. --axes {example}"
        )
    if "Y" not in axes or "X" not in axes:
        raise SettingsError(
            f"--axes {text} lacks Y or X; the axes must include the plane's Y and X, "
            f"e.g. --axes {example}"
        )
    if ndim is not None and len(axes) != ndim:
        raise SettingsError(
            f"--axes {text} has {len(axes)} letters but {name} has {ndim} axes; "
            f"give one letter per axis, e.g. --axes {_example(ndim)}"
        )
    return axes


def _check_letters(shape: tuple[int, ...], axes: str, name: str) -> None:
    """Refuse channels, RGB samples, axes that are not planes, and a missing Y or X."""
    for letter, size in zip(axes, shape, strict=True):
        if letter == "C" and size > 1:
            raise InputError(
                f"{name} has {size} channels (axes {axes}): DivNoising denoises one channel "
                f"at a time; {_SPLIT_CHANNELS}"
            )
        if letter == "S" and size > 1:
            planar = ""  # colour planes stored one by one may be a mislabelled stack
            if not axes.endswith("S") and "Q" not in axes:
                planar = f" (if they are grayscale planes: --axes {axes.replace('S', 'Q')})"
            raise InputError(
                f"{name} is an RGB colour image ({size} samples per pixel, axes {axes}): "
                f"DivNoising needs single-channel camera data; {_SPLIT_CHANNELS}{planar}"
            )
    for letter in axes:
        if letter not in PLANE_LETTERS + SINGLE_LETTERS + "YX":
            meaning = AXIS_NAMES.get(letter, "unknown")
            advice = (
                f"pass --axes {axes.replace(letter, 'Q')} to denoise its planes independently"
                if axes.count(letter) == 1 and "Q" not in axes
                else "save one file per value of it"
            )
            raise InputError(
                f"{name} has a {meaning} axis ({letter}, axes {axes}): DivNoising denoises "
                f"Y, X planes along T, Z or Q only; {advice}"
            )
    if axes.count("Y") != 1 or axes.count("X") != 1:
        raise InputError(
            f"{name} has axes {axes}: one Y and one X axis are needed; "
            f"pass its axes, e.g. --axes {_example(len(axes))}"
        )


def plane_layout(
    shape: tuple[int, ...], axes: str | None, *, name: str = "image"
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return how to turn an image of `shape` and `axes` into ``(..., Y, X)`` planes.

    The plane axes keep their order and come first, then Y, then X; channel and sample
    axes of length 1 are dropped. Without axes, a 2-D or 3-D image stays as it is.

    Parameters
    ----------
    shape : tuple of int
        The image's shape.
    axes : str or None
        One letter per axis (see :data:`AXIS_NAMES`), or None when unknown.
    name : str
        How the image is called in messages.

    Returns
    -------
    order : tuple of int
        The transposition to apply.
    planes_shape : tuple of int
        The shape to reshape the transposed image to.

    Raises
    ------
    InputError
        Without axes, if the image has 4 or more dimensions; with axes, if they do not fit
        `shape`, or name channels, RGB samples, an axis that is not one of independent
        planes, or not exactly one Y and one X.
    """
    shape = tuple(shape)
    if axes is None:
        if len(shape) >= 4:
            raise InputError(
                f"{name} is a {len(shape)}-D image (shape {shape}) without axes metadata: "
                f"pass its axes, one letter per axis, e.g. --axes {_example(len(shape))} "
                "(T time, Z depth, C channel, Q other planes)"
            )
        return tuple(range(len(shape))), shape
    axes = axes.upper()
    if len(axes) != len(shape):
        raise InputError(
            f"{name} has {len(shape)} axes (shape {shape}) but its axes are given as "
            f"{axes}; give one letter per axis, e.g. --axes {_example(len(shape))}"
        )
    _check_letters(shape, axes, name)
    planes = [index for index, letter in enumerate(axes) if letter in PLANE_LETTERS]
    single = [index for index, letter in enumerate(axes) if letter in SINGLE_LETTERS]
    order = (*planes, axes.index("Y"), axes.index("X"), *single)
    return order, tuple(shape[index] for index in order[: len(order) - len(single)])


def planes_of(image: np.ndarray, axes: str | None, *, name: str = "image") -> np.ndarray:
    """Return `image` as ``(..., Y, X)`` planes that the core can denoise one by one.

    Parameters
    ----------
    image : array_like
        The pixel data.
    axes : str or None
        One letter per axis of `image` (e.g. ``"TZYX"``, ``"YXT"``, ``"CZYX"`` with one
        channel), or None when unknown.
    name : str
        How the image is called in messages.

    Returns
    -------
    ndarray
        With axes given: the plane axes (T, Z, Q, I) in their order, then Y, X; a C or S
        axis of length 1 dropped. Images whose last two axes are not Y, X are transposed
        (``YXT`` gives ``TYX``), so results come out in this layout. Without axes: the
        image itself, if it is 2-D or 3-D.

    Raises
    ------
    InputError
        See :func:`plane_layout`.

    Examples
    --------
    >>> import numpy as np
    >>> planes_of(np.zeros((1, 5, 8, 9)), "CZYX").shape
    (5, 8, 9)
    >>> planes_of(np.zeros((8, 9, 3)), "YXT").shape
    (3, 8, 9)
    """
    array = np.asarray(image)
    order, planes_shape = plane_layout(array.shape, axes, name=name)
    if order == tuple(range(array.ndim)) and planes_shape == array.shape:
        return array
    return array.transpose(order).reshape(planes_shape)


def layer_axes(ndim: int) -> str:
    """Return the axes given to a napari layer's data of `ndim` dimensions.

    napari keeps channels in separate layers, so every axis before Y, X is one of planes:
    a 3-D layer is a stack of planes of unknown kind (Q), a 4-D one a time-lapse of Z
    stacks (napari's T, Z, Y, X order), a 5-D one adds planes of unknown kind.

    Parameters
    ----------
    ndim : int
        The layer's dimensions, 2 to 5.

    Returns
    -------
    str

    Raises
    ------
    InputError
        For fewer than 2 or more than 5 dimensions.

    Examples
    --------
    >>> layer_axes(3), layer_axes(4)
    ('QYX', 'TZYX')
    """
    leading = {2: "", 3: "Q", 4: "TZ", 5: "TZQ"}
    if ndim not in leading:
        raise InputError(
            f"a layer of {ndim} dimensions cannot be read as planes: DivNoising takes 2-D "
            "images and stacks of up to 3 leading axes"
        )
    return leading[ndim] + "YX"
