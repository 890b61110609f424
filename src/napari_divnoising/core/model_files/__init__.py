"""Model files: reading and writing trained models, noise models and bioimage.io packages.

This room stands above what a model *is* (``core/model/``, ``core/noise_model/``) and below
the steps that take a file where they take a model. Names load lazily (torch is heavy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; loaded lazily at run time
    from .bioimageio import export_bioimageio
    from .bioimageio_reading import is_bioimageio_package, load_bioimageio
    from .bundle import load_model, save_model
    from .noise_model_file import load_noise_model
    from .resolve import as_model_path, as_noise_model, as_trained_model

__all__ = [
    "as_model_path",
    "as_noise_model",
    "as_trained_model",
    "export_bioimageio",
    "is_bioimageio_package",
    "load_bioimageio",
    "load_model",
    "load_noise_model",
    "save_model",
]

_WHERE = {
    "as_model_path": "resolve",
    "as_noise_model": "resolve",
    "as_trained_model": "resolve",
    "export_bioimageio": "bioimageio",
    "is_bioimageio_package": "bioimageio_reading",
    "load_bioimageio": "bioimageio_reading",
    "load_model": "bundle",
    "load_noise_model": "noise_model_file",
    "save_model": "bundle",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
