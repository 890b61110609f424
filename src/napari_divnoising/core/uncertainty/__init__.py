"""Posterior uncertainty: intervals, their coverage, and their calibration.

:mod:`.intervals` turns a posterior mean and standard deviation into central intervals and
measures, against a ground truth, how often they hold it; :mod:`.calibration` estimates,
on held-back training data and without a ground truth, the scale that makes them honest.
Names load lazily, so importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; loaded lazily at run time
    from .calibration import UncertaintyCalibration, iter_calibrate_uncertainty
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
    "UncertaintyCalibration",
    "error_ranking",
    "gaussian_coverage",
    "gaussian_interval",
    "iter_calibrate_uncertainty",
    "oracle_ranking",
    "quantile_coverage",
    "z_score",
]

_WHERE = {
    "COVERAGE_LEVELS": "intervals",
    "UncertaintyCalibration": "calibration",
    "error_ranking": "intervals",
    "gaussian_coverage": "intervals",
    "gaussian_interval": "intervals",
    "iter_calibrate_uncertainty": "calibration",
    "oracle_ranking": "intervals",
    "quantile_coverage": "intervals",
    "z_score": "intervals",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
