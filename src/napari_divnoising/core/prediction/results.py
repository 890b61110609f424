"""What prediction returns: results in memory, or the OME-Zarr images a stack was written to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunFailedError
from .config import SamplingConfig

__all__ = [
    "RESULT_NAMES",
    "Prediction",
    "StackPrediction",
    "check_finite_results",
    "result_names",
]

#: Every result a prediction can return, in the order they are listed and written.
RESULT_NAMES = (
    "mmse", "direct_mmse", "restored", "map", "uncertainty", "lower", "upper", "samples",
)  # fmt: skip


def result_names(settings: SamplingConfig) -> list[str]:
    """Return the results that `settings` ask for, in :data:`RESULT_NAMES` order."""
    bounds = settings.interval is not None
    wanted = {
        "mmse": not settings.direct,
        "direct_mmse": settings.direct,
        "restored": settings.restore_detail,
        "map": settings.map_estimate,
        "uncertainty": settings.uncertainty,
        "lower": bounds,
        "upper": bounds,
        "samples": settings.keep_samples > 0,
    }
    return [name for name in RESULT_NAMES if wanted[name]]


@dataclass(frozen=True)
class Prediction:
    """Results of posterior sampling, in raw intensity units, float32.

    Attributes
    ----------
    mmse : ndarray or None
        Mean of the samples (the MMSE estimate), same shape as the input; None when the
        direct network gave the MMSE (``settings.direct``).
    direct_mmse : ndarray or None
        The direct network's MMSE (one pass, no sampling), with ``settings.direct``.
    restored : ndarray or None
        The MMSE with the detail that its residual shows restored, if asked for.
    map : ndarray or None
        Patch-wise mode of the samples (the MAP estimate), if asked for.
    uncertainty : ndarray or None
        Per-pixel standard deviation of the samples (times the model's calibration scale,
        unless turned off), if asked for.
    lower, upper : ndarray or None
        Bounds of the central posterior interval of probability ``settings.interval``
        (``mmse ∓ z · uncertainty``), if asked for.
    samples : ndarray or None
        The first ``keep_samples`` samples, shape ``(keep_samples, *image.shape)``.
    settings : SamplingConfig or None
        The settings the samples were drawn with.
    """

    mmse: np.ndarray | None = None
    direct_mmse: np.ndarray | None = None
    restored: np.ndarray | None = None
    map: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    samples: np.ndarray | None = None
    settings: SamplingConfig | None = None


@dataclass(frozen=True)
class StackPrediction:
    """What a chunked prediction wrote.

    Attributes
    ----------
    images : dict of str to Path
        The OME-Zarr image of each result.
    record : Path
        The run's record.
    n_planes : int
        Planes in the stack.
    computed : int
        Planes computed by this run (the others were done by an earlier one).
    """

    images: dict[str, Path]
    record: Path
    n_planes: int
    computed: int


def check_finite_results(
    results: dict[str, np.ndarray], plane: np.ndarray, index: int, normalisation: tuple
) -> None:
    """Raise unless every result is finite: a NaN result is never written as a success."""
    bad = [name for name, result in results.items() if not np.isfinite(result).all()]
    if bad:
        raise RunFailedError(
            f"the {', '.join(bad)} of plane {index} came out NaN or infinite; nothing of it "
            f"was written. Its intensities ({float(plane.min()):.4g} to "
            f"{float(plane.max()):.4g}) may be far from the training data's (mean "
            f"{normalisation[0]:.4g}, std {normalisation[1]:.4g}): use a model trained on "
            "data like this"
        )
