"""Imports of the optional extras, with the install command when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import InputError

__all__ = ["import_bigdata", "import_optional"]


def import_bigdata(module: str, *, purpose: str) -> ModuleType:
    """Import `module` of the ``bigdata`` extra; see :func:`import_optional`."""
    return import_optional(module, extra="bigdata", purpose=purpose)


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import `module` of an optional extra (``bigdata``: zarr, ome_zarr, distributed).

    Parameters
    ----------
    module : str
        The module's name.
    extra : str
        The extra that installs it.
    purpose : str
        What it is needed for, for the message ("reading zarr stores").

    Returns
    -------
    module

    Raises
    ------
    InputError
        If it is not installed: the message gives the command that installs it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InputError(
            f"{purpose} needs the {module.split('.')[0]} package: "
            f"pip install 'napari-divnoising[{extra}]'"
        ) from err
