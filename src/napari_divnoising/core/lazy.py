"""Lazy public names of a package: ``import`` stays instant, a name loads on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: dict[str, str], names: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` that load names on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : dict
        Public name -> module relative to `package` that defines it (``"core.io"``).
    names : list of str
        The package's ``__all__``.

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)``, to assign at the package's module level.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(f".{where[name]}", package), name)
            namespace[name] = value  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
