"""Imports of the optional ``bigdata`` extra, with the install command when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import InputError

__all__ = ["import_bigdata"]


def import_bigdata(module: str, *, purpose: str) -> ModuleType:
    """Import `module` of the ``bigdata`` extra (zarr, ome_zarr, distributed).

    Parameters
    ----------
    module : str
        The module's name.
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
            "pip install 'napari-divnoising[bigdata]'"
        ) from err
