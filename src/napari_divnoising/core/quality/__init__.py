"""Quality control against a ground truth: the recipe and its metrics.

:func:`iter_quality_control` (and its blocking form :func:`quality_control`) is the one
recipe of the quality-control step; :mod:`.metrics` holds the figures it computes. Names
load lazily, so importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
