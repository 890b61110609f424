"""napari-divnoising: unsupervised diversity denoising (DivNoising) for microscopy.

The names below are the scripting API. They load lazily, so ``import napari_divnoising``
is instant and imports neither torch nor Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.lazy import lazy_exports

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    __version__ = "unknown"

# public name -> module that defines it
_LAZY = {
    "DivNoising": "api",
    "make_sample_data": "core.sample_data",
    "calibration_pairs": "core.noise_model.calibration",
    "estimate_poisson_gaussian": "core.noise_model.poisson_gaussian",
    "bootstrap_signal": "core.noise_model.bootstrap",
    "bootstrap_pairs": "core.noise_model.bootstrap",
    "fit_noise_model": "core.noise_model",
    "make_noise_model": "core.noise_model.recipe",
    "NoiseModelSettings": "core.noise_model.settings",
    "quality_control": "core.quality.recipe",
    "load_noise_model": "core.model_files",
    "GaussianMixtureNoiseModel": "core.noise_model",
    "HistogramNoiseModel": "core.noise_model",
    "NetworkConfig": "core.model.config",
    "TrainingConfig": "core.model.config",
    "train": "core.training.trainer",
    "Trainer": "core.training.trainer",
    "sample_posterior": "core.prediction.sampling",
    "predict_direct": "core.prediction.sampling",
    "train_direct": "core.training.direct",
    "DirectConfig": "core.model.config",
    "load_model": "core.model_files",
    "save_model": "core.model_files",
    "psnr": "core.quality.metrics",
    "nrmse": "core.quality.metrics",
    "structural_similarity": "core.quality.metrics",
    "rse_map": "core.quality.metrics",
    "quality_scores": "core.quality.metrics",
}

__all__ = [
    "DirectConfig",
    "DivNoising",
    "GaussianMixtureNoiseModel",
    "HistogramNoiseModel",
    "NetworkConfig",
    "NoiseModelSettings",
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
    "make_noise_model",
    "make_sample_data",
    "nrmse",
    "predict_direct",
    "psnr",
    "quality_control",
    "quality_scores",
    "rse_map",
    "sample_posterior",
    "save_model",
    "structural_similarity",
    "train",
    "train_direct",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)


if TYPE_CHECKING:
    from .api import DivNoising
    from .core.model.config import NetworkConfig, TrainingConfig
    from .core.model_files import load_model, load_noise_model, save_model
    from .core.noise_model import (
        GaussianMixtureNoiseModel,
        HistogramNoiseModel,
        fit_noise_model,
    )
    from .core.noise_model.bootstrap import bootstrap_pairs, bootstrap_signal
    from .core.noise_model.calibration import calibration_pairs
    from .core.noise_model.poisson_gaussian import estimate_poisson_gaussian
    from .core.noise_model.recipe import make_noise_model
    from .core.noise_model.settings import NoiseModelSettings
    from .core.prediction.sampling import sample_posterior
    from .core.quality.metrics import nrmse, psnr, quality_scores, rse_map, structural_similarity
    from .core.quality.recipe import quality_control
    from .core.sample_data import make_sample_data
    from .core.training.trainer import Trainer, train
