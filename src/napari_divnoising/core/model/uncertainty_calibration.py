"""The uncertainty calibration a trained model carries: one scale on the posterior's σ.

:mod:`napari_divnoising.core.training.uncertainty_calibration` estimates it on held-back
data; a model bundle stores it; sampling applies it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ModelFileError

__all__ = ["SCALE_RANGE", "UncertaintyCalibration"]

#: How the scale is estimated (see :mod:`napari_divnoising.core.training.uncertainty_calibration`).
METHOD = "simulation-based σ-scaling"
#: Scales outside this range mean the estimate failed, not that the posterior is that far off.
SCALE_RANGE = (0.1, 10.0)


@dataclass(frozen=True)
class UncertaintyCalibration:
    """One scale factor on the posterior standard deviation, and how it was estimated.

    Attributes
    ----------
    scale : float
        Factor applied to σ (and so to every interval's half-width).
    method : str
        How `scale` was estimated (see the module docstring).
    source : str
        The data it was estimated on, in words ("3 held-back validation planes").
    n_pixels, n_samples : int
        Pixels of held-back data and posterior samples per posterior it used.
    coverage_before, coverage_after : dict of str to float
        Coverage of the central intervals (keys ``"0.5"``… ``"0.95"``) of the simulated
        truths, before and after scaling.
    """

    scale: float
    method: str = METHOD
    source: str = ""
    n_pixels: int = 0
    n_samples: int = 0
    coverage_before: dict[str, float] = field(default_factory=dict)
    coverage_after: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        low, high = SCALE_RANGE
        if not (isinstance(self.scale, (int, float)) and low <= self.scale <= high):
            raise ValueError(f"an uncertainty scale must lie in [{low}, {high}] ({self.scale!r})")

    def to_dict(self) -> dict[str, Any]:
        """Return the calibration as JSON-ready values (a model bundle stores them)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Any) -> UncertaintyCalibration:
        """Read :meth:`to_dict`'s output; raise ModelFileError if it is damaged."""
        try:
            return cls(**values)
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"the model's uncertainty calibration is damaged: {err}") from err

    def describe(self) -> str:
        """Return one line for logs and the GUI."""
        after = self.coverage_after.get("0.9")
        held = "" if after is None else f"; simulated 90% coverage {after:.0%}"
        return f"uncertainty scale {self.scale:.3f} ({self.method}, {self.source}{held})"
