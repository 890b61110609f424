"""Quality control against a ground truth: the recipe and its metrics.

:func:`iter_quality_control` (and its blocking form :func:`quality_control`) is the one
recipe of the quality-control step; :mod:`.metrics` holds the figures it computes. Names
load lazily, so importing this package imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; loaded lazily at run time
    from .metrics import QualityScores, SSIMResult
    from .recipe import QualityResult, iter_quality_control, quality_control

__all__ = [
    "QualityResult",
    "QualityScores",
    "SSIMResult",
    "iter_quality_control",
    "quality_control",
]

_WHERE = {
    "QualityResult": "recipe",
    "QualityScores": "metrics",
    "SSIMResult": "metrics",
    "iter_quality_control": "recipe",
    "quality_control": "recipe",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
