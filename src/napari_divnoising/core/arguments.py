"""Type checks at the door of the public functions: each argument is what it must be.

Scripts pass anything: None, a file name, a list of arrays of different sizes. The public
functions call these checkers first, so a wrong argument is named in one line (an
:class:`~napari_divnoising.core.errors.InputError` or a
:class:`~napari_divnoising.core.errors.ModelFileError`) instead of failing deep inside with
an ``AttributeError``. Where a model is expected, the path of its file is accepted and the
file is loaded.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError, ModelFileError

if TYPE_CHECKING:
    from .model.bundle import TrainedModel

__all__ = [
    "as_image",
    "as_images",
    "as_model_path",
    "as_noise_model",
    "as_trained_model",
    "describe_value",
]

_NOISE_MODEL_FILES = "a noise-model file (.npz or .npy)"


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


def as_model_path(value: Any, *, name: str, what: str = "a .divnoising model file") -> Path:
    """Return `value` as the path of an existing file, or say why it is not one.

    Raises
    ------
    InputError
        If `value` is not a str or path-like.
    ModelFileError
        If nothing exists there, or it is a folder.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"`{name}` must be the path of {what} (got {describe_value(value)})")
    path = Path(value)
    if path.is_dir():
        raise ModelFileError(f"`{name}` must be {what}, but '{path}' is a folder")
    if not path.is_file():
        raise ModelFileError(f"`{name}`: there is no file at '{path}'; expected {what}")
    return path


def _is_model_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "model.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def as_trained_model(value: Any, *, name: str = "model", device: Any = None) -> TrainedModel:
    """Return `value` as a trained model: a :class:`TrainedModel`, or loaded from its file.

    Parameters
    ----------
    value : TrainedModel, str or PathLike
        The model, or the path of a ``.divnoising`` file.
    name : str
        How the argument is called in messages.
    device : str or torch.device, optional
        Where a loaded model's network goes (default: the CPU).

    Raises
    ------
    InputError
        If `value` is neither a model nor a path.
    ModelFileError
        If the file is missing, a folder, damaged or not a model.
    """
    from .model.bundle import TrainedModel, load_model

    if isinstance(value, TrainedModel):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(
            f"`{name}` must be a trained model or the path of a .divnoising file "
            f"(got {describe_value(value)})"
        )
    return load_model(as_model_path(value, name=name), device=device)


def as_noise_model(value: Any, *, name: str = "noise_model") -> Any:
    """Return `value` as a noise model (or None): the model itself, or loaded from its file.

    Anything with a ``log_likelihood(observation, signal)`` method counts as a noise model.

    Raises
    ------
    InputError
        If `value` is neither a noise model, a path nor None.
    ModelFileError
        If the file is missing, a folder, a DivNoising model or not a noise model.
    """
    if value is None or callable(getattr(value, "log_likelihood", None)):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(
            f"`{name}` must be a noise model or the path of {_NOISE_MODEL_FILES} "
            f"(got {describe_value(value)})"
        )
    path = as_model_path(value, name=name, what=_NOISE_MODEL_FILES)
    if _is_model_bundle(path):
        raise ModelFileError(
            f"`{name}`: '{path}' is a trained DivNoising model, not a noise model; "
            "pass the .npz noise model, or load_model(path).noise_model"
        )
    from .noise_model.files import load_noise_model

    return load_noise_model(path)


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
    from .stacks import Stack

    def one(item: Any, label: str) -> Any:
        # A lazy stack stays lazy: training reads it plane by plane.
        return item if isinstance(item, Stack) else as_image(item, name=label)

    if isinstance(value, (list, tuple)):
        return [one(item, f"{name}[{index}]") for index, item in enumerate(value)]
    return one(value, name)
