"""Camera noise models p(x|s): Gaussian mixture and histogram; fitting and saving.

Files are compatible with the reference tools (juglab/PPN2V, juglab/DivNoising): a
Gaussian mixture is a `.npz` with ``trained_weight``, ``min_signal``, ``max_signal`` and
``min_sigma``; a histogram is a `.npy` of shape ``(3, bins, bins)`` (or a `.npz` that also
keeps our metadata); :mod:`napari_divnoising.core.model_files` reads them. Names load
lazily, so importing this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ModelFileError, RunFailedError  # light: re-exported here for callers
from ..lazy import lazy_exports

if TYPE_CHECKING:  # the names below, for type checkers and IDEs; loaded lazily at run time
    from .base import NoiseModel, NoiseModelRangeWarning
    from .diagnostics import VarianceCheck, check_variance, mean_negative_log_likelihood
    from .fitting import fit_noise_model, iter_fit_noise_model
    from .gmm import GaussianMixtureNoiseModel
    from .gmm_fit import FitSoFar
    from .histogram import HistogramNoiseModel

__all__ = [
    "FitSoFar",
    "GaussianMixtureNoiseModel",
    "HistogramNoiseModel",
    "ModelFileError",
    "NoiseModel",
    "NoiseModelRangeWarning",
    "RunFailedError",
    "VarianceCheck",
    "check_variance",
    "fit_noise_model",
    "iter_fit_noise_model",
    "mean_negative_log_likelihood",
]

_WHERE = {
    "FitSoFar": "gmm_fit",
    "GaussianMixtureNoiseModel": "gmm",
    "HistogramNoiseModel": "histogram",
    "NoiseModel": "base",
    "NoiseModelRangeWarning": "base",
    "VarianceCheck": "diagnostics",
    "check_variance": "diagnostics",
    "mean_negative_log_likelihood": "diagnostics",
    "fit_noise_model": "fitting",
    "iter_fit_noise_model": "fitting",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
