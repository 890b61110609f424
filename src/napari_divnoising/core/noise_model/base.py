"""The common interface of camera noise models p(x|s).

A noise model gives the probability density of an observed pixel value ``x`` (raw camera
units, e.g. ADU) given the clean signal ``s`` at that pixel. DivNoising uses its log
density as the decoder likelihood; the widgets plot its mean, variance and density.
"""

from __future__ import annotations

import abc
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelFileError, SettingsError

if TYPE_CHECKING:
    import torch

__all__ = [
    "ModelFileError",
    "NoiseModel",
    "NoiseModelRangeWarning",
]

#: Slack, as a fraction of the model's signal range, before data counts as out of range.
RANGE_TOLERANCE = 0.05
#: Slack, in noise standard deviations at the range's ends, added to `RANGE_TOLERANCE`.
RANGE_TOLERANCE_STD = 3.0
#: Fewest values for the range warning to say what fraction lies outside (a caller may
#: pass only a summary of the data, such as its minimum and maximum).
_MIN_VALUES_FOR_FRACTIONS = 100


class NoiseModelRangeWarning(UserWarning):
    """Data reach outside the signal range a noise model was fitted on."""


class NoiseModel(abc.ABC):
    """A camera noise model: the density p(x|s) of an observation given the signal.

    Attributes
    ----------
    min_signal, max_signal : float
        The signal range, in raw intensity units, that the model was fitted on.
    metadata : dict
        JSON-serialisable facts about the model (kind, fit settings, units, date,
        package version). Saved with the model and ignored by the reference tools.
    """

    #: Short name of the model family, stored in saved files ("gmm", "histogram").
    kind: str = ""

    def __init__(
        self, *, min_signal: float, max_signal: float, metadata: dict[str, Any] | None = None
    ) -> None:
        min_signal, max_signal = float(min_signal), float(max_signal)
        if not (np.isfinite(min_signal) and np.isfinite(max_signal) and min_signal < max_signal):
            raise SettingsError(
                "`min_signal` must be finite and smaller than `max_signal` "
                f"(got min_signal={min_signal!r}, max_signal={max_signal!r})"
            )
        self.min_signal = min_signal
        self.max_signal = max_signal
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.metadata.setdefault("kind", self.kind)

    # -- likelihood ---------------------------------------------------------------------------
    @abc.abstractmethod
    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise log density log p(x|s), in raw intensity units.

        Parameters
        ----------
        observation : torch.Tensor
            Observed (noisy) pixel values.
        signal : torch.Tensor
            Clean signal values; broadcast against `observation`.

        Returns
        -------
        torch.Tensor
            float32 log densities (per unit of intensity) with the broadcast shape, on the
            inputs' device, differentiable with respect to `signal`.
        """

    @abc.abstractmethod
    def to(self, device: torch.device | str) -> NoiseModel:
        """Move the model's tensors to `device` and return the model itself."""

    # -- numpy views for plots and checks -------------------------------------------------------
    @abc.abstractmethod
    def mean(self, signal: np.ndarray) -> np.ndarray:
        """Return E[x|s] for every value of `signal` (float64, same shape)."""

    @abc.abstractmethod
    def variance(self, signal: np.ndarray) -> np.ndarray:
        """Return Var[x|s] for every value of `signal` (float64, same shape)."""

    def density(self, observation: np.ndarray, signal: float) -> np.ndarray:
        """Return p(x|s) over a grid of observations at one signal value.

        Parameters
        ----------
        observation : ndarray
            Observation values (raw intensity units) at which to evaluate the density.
        signal : float
            The clean signal.

        Returns
        -------
        ndarray of float64
            The density (per unit of intensity), with the shape of `observation`.
        """
        import torch

        obs = torch.tensor(np.asarray(observation, dtype=np.float32))
        sig = torch.tensor(float(signal), dtype=torch.float32)
        with torch.no_grad():
            log_p = self.log_likelihood(obs, sig)
        return np.exp(log_p.cpu().numpy().astype(np.float64))

    @abc.abstractmethod
    def sample_observation(self, signal: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Draw one noisy observation per value of `signal` (float64, same shape)."""

    # -- files ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write the model to `path` atomically and return the path written."""

    # -- checks ---------------------------------------------------------------------------------
    def check_signal_range(self, image: np.ndarray, *, name: str = "image") -> None:
        """Warn if `image` reaches well outside the signal range of the model.

        Observations scatter around the signal, so the allowed slack is
        ``5%`` of the model's signal range plus three noise standard deviations at
        each end of the range. The warning says how much of the image lies outside, and
        whether the image sits mostly below or above the range by a shift its spread
        would fit within: the mark of an offset different from the model's data.

        Parameters
        ----------
        image : ndarray
            Data in raw intensity units (noisy images or signal estimates), or a summary
            of them such as ``(min, max)`` (then no fractions are given).
        name : str
            How the data are called in the warning.

        Warns
        -----
        NoiseModelRangeWarning
            When the data's minimum or maximum lies outside the slack.
        """
        data = np.asarray(image)
        if data.size == 0:
            return
        low, high = float(np.nanmin(data)), float(np.nanmax(data))
        span = self.max_signal - self.min_signal
        std_low, std_high = np.sqrt(self.variance(np.array([self.min_signal, self.max_signal])))
        lowest = self.min_signal - RANGE_TOLERANCE * span - RANGE_TOLERANCE_STD * std_low
        highest = self.max_signal + RANGE_TOLERANCE * span + RANGE_TOLERANCE_STD * std_high
        if lowest <= low and high <= highest:
            return
        message = (
            f"`{name}` spans intensities {low:.6g} to {high:.6g}, but the noise model was "
            f"fitted on signals from {self.min_signal:.6g} to {self.max_signal:.6g}"
        )
        warnings.warn(
            message + _range_advice(data, name, lowest, highest),
            NoiseModelRangeWarning,
            stacklevel=2,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(min_signal={self.min_signal:.6g}, "
            f"max_signal={self.max_signal:.6g})"
        )


def _range_advice(data: np.ndarray, name: str, lowest: float, highest: float) -> str:
    """Return the rest of the range warning: how much lies outside, and if by a shift.

    The data sit outside "by a shift" when most of them lie on one side of the model's
    range (with its slack, ``lowest`` to ``highest``) and their spread, the 1st to 99th
    percentile, would fit within it: an offset that differs, not a range not covered.
    """
    if data.size >= _MIN_VALUES_FOR_FRACTIONS:
        below = np.count_nonzero(data < lowest) / data.size
        above = np.count_nonzero(data > highest) / data.size
        sample = data.reshape(-1)[:: max(1, data.size // 1_000_000)]  # a million at most
        low, high = (float(v) for v in np.nanpercentile(sample, [1, 99]))
        text = f" ({below:.1%} of it lies below that range, {above:.1%} above)"
    else:  # a summary such as (min, max): all lies on one side when both ends do
        low, high = float(np.nanmin(data)), float(np.nanmax(data))
        below, above, text = float(high < lowest), float(low > highest), ""
    text += "; its likelihood is extrapolated outside that range."
    if max(below, above) > 0.5 and high - low <= highest - lowest:
        side = "below" if below > above else "above"
        return text + (
            f" Most of `{name}` sits {side} that range, as if shifted: its offset (dark "
            "level) differs from that of the data the model was fitted on. Give raw camera "
            "intensities with the same offset (add back a subtracted offset or background), "
            "or fit a noise model on these data."
        )
    return (
        text + " Fit the noise model on data that cover these intensities (same camera settings)."
    )
