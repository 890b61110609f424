"""Posterior uncertainty: central intervals and how often they hold the truth.

:mod:`.intervals` turns a posterior mean and standard deviation into central intervals and
measures, against a ground truth, how often they hold it. The scale that makes them honest
is a model's :class:`~napari_divnoising.core.model.uncertainty_calibration.UncertaintyCalibration`,
estimated after training by :mod:`napari_divnoising.core.training.uncertainty_calibration`.
Names load lazily, so importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; loaded lazily at run time
    from .intervals import (
        COVERAGE_LEVELS,
        error_ranking,
        gaussian_coverage,
        gaussian_interval,
        oracle_ranking,
        quantile_coverage,
        z_score,
    )

__all__ = [
    "COVERAGE_LEVELS",
    "error_ranking",
    "gaussian_coverage",
    "gaussian_interval",
    "oracle_ranking",
    "quantile_coverage",
    "z_score",
]

_WHERE = {
    "COVERAGE_LEVELS": "intervals",
    "error_ranking": "intervals",
    "gaussian_coverage": "intervals",
    "gaussian_interval": "intervals",
    "oracle_ranking": "intervals",
    "quantile_coverage": "intervals",
    "z_score": "intervals",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
