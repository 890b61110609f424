"""Path-to-object resolvers: a model argument may be the model or the path of its file.

Scripts pass anything: None, a file name, a folder. The public functions call these first,
so a wrong argument is named in one line (an :class:`~napari_divnoising.core.errors.InputError`
or a :class:`~napari_divnoising.core.errors.ModelFileError`) instead of failing deep inside.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelFileError
from ..model.trained import TrainedModel
from ..noise_model.base import NoiseModel
from ..validation import describe_value
from .bundle import load_model
from .noise_model_file import load_noise_model

__all__ = ["as_model_path", "as_noise_model", "as_trained_model"]

_NOISE_MODEL_FILES = "a noise-model file (.npz or .npy)"


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
    if isinstance(value, TrainedModel):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(
            f"`{name}` must be a trained model or the path of a .divnoising file "
            f"(got {describe_value(value)})"
        )
    return load_model(as_model_path(value, name=name), device=device)


def as_noise_model(value: Any, *, name: str = "noise_model") -> NoiseModel | None:
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
    return load_noise_model(path)
