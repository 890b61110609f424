"""A trained DivNoising model in memory: the network and everything needed to use it.

:mod:`.bundle` writes and reads it as one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import SettingsError
from .config import DirectConfig, NetworkConfig, TrainingConfig
from .direct import DirectNetwork
from .likelihood import GaussianLikelihood, Likelihood, check_likelihood_choice
from .network import DivNoisingVAE

if TYPE_CHECKING:
    from ..noise_model import NoiseModel
    from .uncertainty_calibration import UncertaintyCalibration

__all__ = ["TrainedModel"]


@dataclass
class TrainedModel:
    """A trained DivNoising network with everything needed to use it.

    Attributes
    ----------
    network : DivNoisingVAE
        The VAE; works on normalised images.
    network_config, training_config : NetworkConfig, TrainingConfig
        How the network was built and trained.
    data_mean, data_std : float
        Normalisation of the training data: ``(x - data_mean) / data_std``.
    noise_model : NoiseModel or None
        The decoder likelihood p(x|s); None when a Gaussian with `gaussian_sigma` was used.
    gaussian_sigma : float or None
        Standard deviation (raw units) of the Gaussian likelihood without a noise model.
    history : list of dict
        One entry per finished epoch (the fields of ``EpochDone``).
    provenance : dict
        Versions, seed, training data shapes and date.
    uncertainty_calibration : UncertaintyCalibration or None
        The scale on the posterior's σ estimated on held-back data; None: uncalibrated.
    direct_network : DirectNetwork or None
        The network that gives the MMSE in one pass, trained from this model's posterior;
        None until one is trained (:mod:`..training.direct`).
    direct_config : DirectConfig or None
        How the direct network was built and trained.
    """

    network: DivNoisingVAE
    network_config: NetworkConfig
    training_config: TrainingConfig
    data_mean: float
    data_std: float
    noise_model: NoiseModel | None = None
    gaussian_sigma: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    uncertainty_calibration: UncertaintyCalibration | None = None
    direct_network: DirectNetwork | None = None
    direct_config: DirectConfig | None = None

    def __post_init__(self) -> None:
        check_likelihood_choice(self.noise_model, self.gaussian_sigma)
        if not (np.isfinite(self.data_std) and self.data_std > 0):
            raise SettingsError(f"`data_std` must be a positive number (got {self.data_std!r})")
        if not np.isfinite(self.data_mean):
            raise SettingsError(f"`data_mean` must be a finite number (got {self.data_mean!r})")

    @property
    def size_multiple(self) -> int:
        """Image sides given to the network must be multiples of this number."""
        return self.network.size_multiple

    @property
    def device(self) -> torch.device:
        """Device that holds the network weights."""
        return next(self.network.parameters()).device

    @property
    def likelihood(self) -> Likelihood:
        """The decoder likelihood: the noise model, or the Gaussian with `gaussian_sigma`."""
        if self.noise_model is not None:
            return self.noise_model
        return GaussianLikelihood(float(self.gaussian_sigma))  # type: ignore[arg-type]

    def normalize(self, x: Any) -> Any:
        """Raw intensities → network units (numpy arrays or tensors)."""
        return (x - self.data_mean) / self.data_std

    def denormalize(self, x: Any) -> Any:
        """Network units → raw intensities (numpy arrays or tensors)."""
        return x * self.data_std + self.data_mean

    def to(self, device: torch.device | str) -> TrainedModel:
        """Move the network (and noise model) to `device` in place; return self."""
        self.network.to(device)
        if self.direct_network is not None:
            self.direct_network.to(device)
        if self.noise_model is not None:
            self.noise_model = self.noise_model.to(device)
        return self
