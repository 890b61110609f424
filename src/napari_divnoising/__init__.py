"""napari-divnoising: unsupervised diversity denoising (DivNoising) for microscopy.

The names below are the scripting API. They load lazily, so ``import napari_divnoising``
is instant and imports neither torch nor Qt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    __version__ = "unknown"

# public name -> module that defines it
_LAZY = {
    "DivNoising": "api",
    "make_sample_data": "core.sample_data",
    "calibration_pairs": "core.calibration",
    "estimate_poisson_gaussian": "core.poisson_gaussian",
    "bootstrap_signal": "core.bootstrap",
    "bootstrap_pairs": "core.bootstrap",
    "fit_noise_model": "core.noise_models",
    "load_noise_model": "core.noise_models",
    "GaussianMixtureNoiseModel": "core.noise_models",
    "HistogramNoiseModel": "core.noise_models",
    "NetworkConfig": "core.config",
    "TrainingConfig": "core.config",
    "train": "core.training",
    "Trainer": "core.training",
    "sample_posterior": "core.inference",
    "load_model": "core.bundle",
    "save_model": "core.bundle",
    "psnr": "core.metrics",
    "nrmse": "core.metrics",
    "structural_similarity": "core.metrics",
    "rse_map": "core.metrics",
    "quality_scores": "core.metrics",
}

__all__ = [
    "DivNoising",
    "GaussianMixtureNoiseModel",
    "HistogramNoiseModel",
    "NetworkConfig",
    "Trainer",
    "TrainingConfig",
    "__version__",
    "bootstrap_pairs",
    "bootstrap_signal",
    "calibration_pairs",
    "estimate_poisson_gaussian",
    "fit_noise_model",
    "load_model",
    "load_noise_model",
    "make_sample_data",
    "nrmse",
    "psnr",
    "quality_scores",
    "rse_map",
    "sample_posterior",
    "save_model",
    "structural_similarity",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .api import DivNoising
    from .core.bootstrap import bootstrap_pairs, bootstrap_signal
    from .core.bundle import load_model, save_model
    from .core.calibration import calibration_pairs
    from .core.config import NetworkConfig, TrainingConfig
    from .core.inference import sample_posterior
    from .core.metrics import nrmse, psnr, quality_scores, rse_map, structural_similarity
    from .core.noise_models import (
        GaussianMixtureNoiseModel,
        HistogramNoiseModel,
        fit_noise_model,
        load_noise_model,
    )
    from .core.poisson_gaussian import estimate_poisson_gaussian
    from .core.sample_data import make_sample_data
    from .core.training import Trainer, train
