"""Input checks shared by every core entry point.

Each check fails with a message that says what is wrong, the value received and what is
allowed, in words a microscopist understands. Widgets call the same functions to mark
bad inputs before the user presses Run.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = [
    "InputError",
    "as_image_stack",
    "check_finite",
    "check_not_constant",
    "check_same_shape",
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
