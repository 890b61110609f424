"""The state a DivNoising training run works on: data, likelihood, device, best weights.

:class:`TrainingState` prepares everything before the first step (so bad inputs fail
early, before any thread starts) and keeps the best weights, which stay reachable after
the training generator is closed. :class:`~napari_divnoising.core.training.trainer.Trainer` adds
the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import RunFailedError
from ..model.config import NetworkConfig, TrainingConfig, default_network_config
from ..model.device import bf16_is_fast, select_device
from ..model.likelihood import GaussianLikelihood, check_likelihood_choice
from ..model.network import DivNoisingVAE, build_network
from ..model.trained import TrainedModel
from ..model_files.resolve import as_noise_model, as_trained_model
from ..provenance import training_provenance
from ..validation import as_images
from .losses import ElboTerms, elbo_terms
from .patches import PatchSampler, prepare_training_data
from .schedules import KLWeight, LearningRate

__all__ = ["RunFailedError", "TrainingState"]


@dataclass
class _Run:
    """Mutable state of one training run (replaced wholesale on a collapse restart)."""

    network: DivNoisingVAE
    optimizer: torch.optim.Optimizer
    kl_weight: KLWeight
    n_bad_steps: int = 0
    since_best: int = 0


class _NonFinite(Exception):
    """The loss stayed NaN/inf for too many steps in a row (internal to the loop)."""


@dataclass
class _Loop:
    """What one call of :meth:`Trainer.run` works with."""

    run: _Run
    sampler: PatchSampler
    generator: torch.Generator
    lr_schedule: LearningRate
    steps_per_epoch: int
    total_steps: int
    first_step: int
    budget_s: float
    start: float


class TrainingState:
    """Data, likelihood, device and best weights of a DivNoising training run.

    Takes the arguments of :class:`~napari_divnoising.core.training.trainer.Trainer`, and checks
    them all before training starts. `noise_model` and `initial_model` may also be the paths
    of their files.
    """

    def __init__(
        self,
        images: np.ndarray | Sequence[np.ndarray],
        *,
        noise_model: Any = None,
        gaussian_sigma: float | None = None,
        config: TrainingConfig | None = None,
        network_config: NetworkConfig | None = None,
        device: str = "auto",
        initial_model: TrainedModel | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else TrainingConfig()
        images, noise_model = as_images(images), as_noise_model(noise_model)
        if initial_model is not None:
            initial_model = as_trained_model(initial_model, name="initial_model")
            network_config = initial_model.network_config
            if noise_model is None and gaussian_sigma is None:
                noise_model = initial_model.noise_model
                gaussian_sigma = initial_model.gaussian_sigma
        self.network_config = (
            network_config if network_config is not None else default_network_config(cfg)
        )
        check_likelihood_choice(noise_model, gaussian_sigma)
        self.noise_model = noise_model
        self.gaussian_sigma = None if gaussian_sigma is None else float(gaussian_sigma)
        self.likelihood = (
            noise_model if noise_model is not None else GaussianLikelihood(float(gaussian_sigma))
        )
        self.seed = (
            cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % 2**32)
        )
        self.initial_model = initial_model
        self.data = prepare_training_data(
            images,
            config=cfg,
            size_multiple=self.network_config.size_multiple,
            seed=self.seed,
            # Continued training keeps the units the network was trained in.
            normalization=None
            if initial_model is None
            else (initial_model.data_mean, initial_model.data_std),
        )
        if noise_model is not None and hasattr(noise_model, "check_signal_range"):
            noise_model.check_signal_range(np.array(self.data.value_range), name="images")
        self.device_choice = select_device(device)
        self.device = self.device_choice.device
        mode = cfg.mixed_precision
        self.use_bf16 = mode == "bf16" or (mode == "auto" and bf16_is_fast(self.device))
        self.history: list[dict[str, Any]] = (
            [] if initial_model is None else list(initial_model.history)
        )
        self.n_steps = 0
        self.n_restarts = 0
        self.train_seconds = 0.0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._best_val = math.inf

    # -- models ---------------------------------------------------------------------------
    def _new_run(self, restart: int) -> _Run:
        kwargs = self.network_config.network_kwargs()
        network = build_network(seed=self.seed + 7919 * restart, **kwargs)
        if restart == 0 and self.initial_model is not None:
            network.load_state_dict(self.initial_model.network.state_dict())
        layout = torch.channels_last if self.config.channels_last else torch.preserve_format
        network.to(self.device, memory_format=layout).train()
        optimizer = torch.optim.Adam(network.parameters(), lr=self.config.learning_rate)
        warmup = self.config.collapse_warmup_steps if restart else self.config.kl_warmup_steps
        kl_weight = KLWeight(self.config.kl_weight, warmup_steps=warmup, start=self.n_steps)
        return _Run(network, optimizer, kl_weight)

    def best_model(self) -> TrainedModel:
        """Return the model with the lowest validation loss so far (on the training device).

        Raises
        ------
        RunFailedError
            If no epoch has finished yet.
        """
        if self._best_state is None:
            raise RunFailedError("no training epoch has finished yet, so there is no model")
        network = build_network(**self.network_config.network_kwargs())
        network.load_state_dict(self._best_state)
        provenance = training_provenance(
            seed=self.seed,
            data_shapes=self.data.shapes,
            device=self.device_choice.description,
            n_train_planes=len(self.data.split.train),
            n_validation_planes=len(self.data.split.validation),
            n_steps=self.n_steps,
            training_seconds=self.train_seconds,
            mixed_precision="bf16" if self.use_bf16 else "off",
            previous=None if self.initial_model is None else self.initial_model.provenance,
        )
        return TrainedModel(
            network=network.to(self.device).eval(),
            network_config=self.network_config,
            training_config=self.config,
            data_mean=self.data.data_mean,
            data_std=self.data.data_std,
            noise_model=self.noise_model,
            gaussian_sigma=self.gaussian_sigma,
            history=list(self.history),
            provenance=provenance,
        )

    # -- losses ---------------------------------------------------------------------------
    def _terms(
        self, network: DivNoisingVAE, raw: np.ndarray, generator: torch.Generator
    ) -> ElboTerms:
        observation = torch.from_numpy(raw).to(self.device)
        x = (observation - self.data.data_mean) / self.data.data_std
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        # Only the network runs in bfloat16; the likelihood and the KL are float32.
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16):
            reconstruction, mu, logvar = network(x, generator=generator)
        return elbo_terms(
            observation,
            reconstruction,
            mu,
            logvar,
            likelihood=self.likelihood,
            data_mean=self.data.data_mean,
            data_std=self.data.data_std,
        )

    def validation_loss(self, network: DivNoisingVAE) -> float:
        """Negative ELBO per pixel of `network` on the fixed validation patches.

        The latent noise is drawn from a fixed seed, so the value depends on the weights only.
        """
        generator = torch.Generator(self.device).manual_seed(self.seed + 1)
        was_training, total = network.training, 0.0
        network.eval()
        with torch.no_grad():
            for start in range(0, len(self.data.validation_patches), self.config.batch_size):
                chunk = self.data.validation_patches[start : start + self.config.batch_size]
                total += float(self._terms(network, chunk, generator).loss()) * len(chunk)
        network.train(was_training)
        return total / len(self.data.validation_patches)

    # -- the loop -------------------------------------------------------------------------

    def _step(self, run: _Run, sampler: PatchSampler, generator: torch.Generator, lr: float):
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        terms = self._terms(run.network, sampler.sample(self.config.batch_size), generator)
        loss = terms.loss(run.kl_weight.at(self.n_steps))
        run.optimizer.zero_grad(set_to_none=True)
        finite = bool(torch.isfinite(loss))
        if finite:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(run.network.parameters(), math.inf)
            finite = bool(torch.isfinite(norm))
        self.n_steps += 1
        if not finite:  # skip the update: the weights never see a NaN gradient
            run.n_bad_steps += 1
            return None
        run.optimizer.step()
        run.n_bad_steps = 0
        return float(terms.loss().detach()), float(terms.kl.detach())

    def _start_loop(self) -> _Loop:
        cfg, spe = self.config, self.data.steps_per_epoch
        self.likelihood = (
            self.likelihood.to(self.device) if hasattr(self.likelihood, "to") else self.likelihood
        )
        sampler = PatchSampler(
            self.data.split.train,
            patch_size=cfg.patch_size,
            augment=cfg.augment,
            rng=np.random.default_rng([self.seed, 1]),
        )
        return _Loop(
            run=self._new_run(0),
            sampler=sampler,
            generator=torch.Generator(self.device).manual_seed(self.seed),
            lr_schedule=LearningRate(cfg, total_steps=cfg.max_epochs * spe),
            steps_per_epoch=spe,
            total_steps=cfg.max_epochs * spe,
            first_step=self.n_steps,
            budget_s=math.inf if cfg.time_budget_minutes is None else 60 * cfg.time_budget_minutes,
            start=time.perf_counter(),
        )
