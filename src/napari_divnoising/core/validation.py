"""Input checks shared by every core entry point.

Each check fails with a message that says what is wrong, the value received and what is
allowed, in words a microscopist understands. Widgets call the same functions to mark
bad inputs before the user presses Run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError
from .stacks import Stack

__all__ = [
    "InputError",
    "as_image",
    "as_image_stack",
    "as_images",
    "check_finite",
    "check_not_constant",
    "check_same_shape",
    "describe_value",
]


def _describe(image: np.ndarray) -> str:
    return f"shape {tuple(image.shape)}, dtype {image.dtype}"


def check_finite(image: np.ndarray, *, name: str = "image") -> None:
    """Raise :class:`InputError` if `image` holds NaN or infinite values.

    Parameters
    ----------
    image : ndarray
        Array to check.
    name : str
        How the array is called in the error message.
    """
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        n_bad = int(np.size(image) - np.count_nonzero(np.isfinite(image)))
        raise InputError(
            f"`{name}` contains {n_bad} NaN or infinite pixel(s); "
            "replace or crop them before denoising"
        )


def check_not_constant(image: np.ndarray, *, name: str = "image") -> None:
    """Raise :class:`InputError` if every pixel of `image` has the same value.

    Parameters
    ----------
    image : ndarray
        Array to check.
    name : str
        How the array is called in the error message.
    """
    if image.size and np.ptp(image) == 0:
        raise InputError(
            f"`{name}` is constant (every pixel is {image.flat[0].item()!r}); "
            "there is no signal or noise to learn from"
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str]) -> None:
    """Raise :class:`InputError` unless `a` and `b` have the same shape.

    Parameters
    ----------
    a, b : ndarray
        Arrays to compare.
    names : tuple of str
        How the two arrays are called in the error message.
    """
    if a.shape != b.shape:
        raise InputError(
            f"`{names[0]}` and `{names[1]}` must have the same shape "
            f"(got {tuple(a.shape)} and {tuple(b.shape)})"
        )


def as_image_stack(
    image: np.ndarray,
    *,
    name: str = "image",
    min_size: int = 1,
    allow_stack: bool = True,
) -> np.ndarray:
    """Validate a grayscale image or stack and return it as float32 ``(N, Y, X)``.

    Leading axes (time, depth, samples) are flattened into ``N`` independent 2D planes.
    The input is never modified; a new array is returned.

    Parameters
    ----------
    image : array_like
        A 2D image ``(Y, X)`` or a stack ``(..., Y, X)`` of grayscale planes.
    name : str
        How the array is called in error messages.
    min_size : int
        Smallest allowed height and width, in pixels.
    allow_stack : bool
        If False, only a single 2D image is accepted.

    Returns
    -------
    ndarray of float32, shape (N, Y, X)
        The planes, as a new array.

    Raises
    ------
    InputError
        If the array is not numeric, has fewer than 2 or (with ``allow_stack=False``)
        more than 2 dimensions, looks like an RGB(A) image, is smaller than `min_size`,
        holds NaN/inf values or is constant.

    Examples
    --------
    >>> import numpy as np
    >>> as_image_stack(np.zeros((2, 8, 8)) + np.arange(8)).shape
    (2, 8, 8)
    """
    array = np.asarray(image)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise InputError(
            f"`{name}` must hold integer or floating-point intensities (got dtype {array.dtype}); "
            "labels, masks and complex data cannot be denoised"
        )
    if array.ndim < 2:
        raise InputError(
            f"`{name}` must be 2D (Y, X) or a stack of 2D planes (got {_describe(array)})"
        )
    if not allow_stack and array.ndim != 2:
        raise InputError(f"`{name}` must be a single 2D image (Y, X) (got {_describe(array)})")
    if array.ndim >= 3 and array.shape[-1] in (3, 4) and array.shape[-2] > 4:
        raise InputError(
            f"`{name}` looks like an RGB(A) colour image ({_describe(array)}); "
            "DivNoising needs single-channel camera data — split the channels first"
        )
    height, width = array.shape[-2:]
    if min(height, width) < min_size:
        raise InputError(
            f"`{name}` is {height}×{width} pixels; at least {min_size}×{min_size} is needed"
        )
    check_finite(array, name=name)
    check_not_constant(array, name=name)
    return array.reshape((-1, height, width)).astype(np.float32, copy=True)


def describe_value(value: Any) -> str:
    """Say what `value` is, for a message's "(got …)": ``None``, ``7``, ``'a.tif'``, ``a list``.

    Numbers show as plain Python numbers (``7``, not ``np.uint8(7)``).
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float, str, bytes)):
        return repr(value)
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _check_same_shapes(items: Sequence[Any], *, name: str, hint: str) -> None:
    shapes = []
    for index, item in enumerate(items):
        if item is None or isinstance(item, (str, bytes, os.PathLike)):
            raise InputError(
                f"`{name}[{index}]` must be an array of numbers (got {describe_value(item)})"
            )
        try:
            shapes.append(np.shape(item))
        except ValueError:
            raise InputError(
                f"`{name}` is a ragged nested list (its rows differ in length); "
                "it must be one rectangular array of numbers"
            ) from None
    distinct = list(dict.fromkeys(shapes))
    if len(distinct) > 1:
        shown = ", ".join(str(shape) for shape in distinct[:4])
        what = "arrays" if any(isinstance(item, np.ndarray) for item in items) else "rows"
        raise InputError(
            f"`{name}` must be one array, or a list of arrays of one shape "
            f"(got {what} of shapes {shown}); {hint}"
        )


def as_image(value: Any, *, name: str, hint: str = "pass the images one at a time") -> np.ndarray:
    """Return `value` as a numpy array (no copy of an array), refusing what is not an image.

    Parameters
    ----------
    value : array_like
        An array, or a (nested) list of numbers or of arrays of one shape.
    name : str
        How the argument is called in messages.
    hint : str
        What to do with a list of arrays of different shapes.

    Raises
    ------
    InputError
        If `value` is None, a file name, a list of arrays of different shapes, a ragged
        nested list or holds Python objects.

    Examples
    --------
    >>> as_image([[1, 2], [3, 4]], name="image").shape
    (2, 2)
    """
    if value is None:
        raise InputError(f"`{name}` must be an image: an array of numbers (got None)")
    if isinstance(value, (str, bytes, os.PathLike)):
        raise InputError(
            f"`{name}` must be an image array, not a file name (got {describe_value(value)}); "
            "read the file first, e.g. with tifffile.imread(path)"
        )
    if isinstance(value, (list, tuple)):
        _check_same_shapes(value, name=name, hint=hint)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise InputError(f"`{name}` cannot be read as an array of numbers ({err})") from None
    if array.dtype == object:
        got = "an array of dtype object" if isinstance(value, np.ndarray) else None
        raise InputError(
            f"`{name}` must be an image: an array of numbers (got {got or describe_value(value)})"
        )
    return array


def as_images(value: Any, *, name: str = "images") -> np.ndarray | list[np.ndarray]:
    """Return training images: one array or lazy stack, or a list of them (sizes may differ).

    Raises
    ------
    InputError
        As :func:`as_image`, for the value or any item of a list.
    """

    def one(item: Any, label: str) -> Any:
        # A lazy stack stays lazy: training reads it plane by plane.
        return item if isinstance(item, Stack) else as_image(item, name=label)

    if isinstance(value, (list, tuple)):
        return [one(item, f"{name}[{index}]") for index, item in enumerate(value)]
    return one(value, name)
