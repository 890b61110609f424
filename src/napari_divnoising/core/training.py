"""Training a DivNoising VAE: a generator of progress events that returns the best model.

>>> trainer = Trainer(images, noise_model=noise_model)  # doctest: +SKIP
>>> for event in trainer.run():  # doctest: +SKIP
...     print(event)
>>> model = trainer.best_model()  # doctest: +SKIP

Stopping early is "stop iterating" (``generator.close()``): :meth:`Trainer.best_model`
still returns the weights of the best validation epoch so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .bundle import TrainedModel
from .config import NetworkConfig, TrainingConfig
from .device import bf16_is_fast, select_device
from .events import run_generator
from .losses import ElboTerms, GaussianLikelihood, elbo_terms
from .network import DivNoisingVAE, build_network
from .patches import PatchSampler, prepare_training_data
from .provenance import training_provenance
from .schedules import KLWeight, LearningRate
from .training_events import (
    CollapseRestart,
    EpochDone,
    StepDone,
    StoppedEarly,
    TrainingEvent,
    TrainingStarted,
)

__all__ = ["Trainer", "TrainingError", "train"]


class TrainingError(RuntimeError):
    """Training could not produce a usable model."""


@dataclass
class _Run:
    """Mutable state of one training run (replaced wholesale on a collapse restart)."""

    network: DivNoisingVAE
    optimizer: torch.optim.Optimizer
    kl_weight: KLWeight
    n_bad_steps: int = 0
    since_best: int = 0


class Trainer:
    """Train a DivNoising VAE on noisy images.

    Parameters
    ----------
    images : ndarray or sequence of ndarray
        Noisy images in raw units: 2D, stacks ``(..., Y, X)`` of independent planes, or a
        list of them (sizes may differ). The caller's arrays are never modified.
    noise_model : NoiseModel, optional
        The camera noise model p(x|s). Exactly one of `noise_model` and `gaussian_sigma`
        must be given (or come from `initial_model`).
    gaussian_sigma : float, optional
        Standard deviation (raw units) of a Gaussian likelihood, without a noise model.
    config : TrainingConfig, optional
        Training settings (default: the reference's).
    network_config : NetworkConfig, optional
        Architecture (ignored when `initial_model` is given).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"mps"``.
    initial_model : TrainedModel, optional
        Continue training this model: its weights, normalisation, likelihood and history.
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
        if initial_model is not None:
            network_config = initial_model.network_config
            if noise_model is None and gaussian_sigma is None:
                noise_model = initial_model.noise_model
                gaussian_sigma = initial_model.gaussian_sigma
        self.network_config = network_config if network_config is not None else NetworkConfig()
        if (noise_model is None) == (gaussian_sigma is None):
            raise ValueError(
                "give exactly one likelihood: a `noise_model` or a `gaussian_sigma` (got "
                f"noise_model={type(noise_model).__name__}, gaussian_sigma={gaussian_sigma!r})"
            )
        self.noise_model = noise_model
        self.gaussian_sigma = None if gaussian_sigma is None else float(gaussian_sigma)
        self.likelihood = noise_model or GaussianLikelihood(self.gaussian_sigma)  # type: ignore[arg-type]
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
            normalization=(initial_model.data_mean, initial_model.data_std)
            if initial_model
            else None,
        )
        if noise_model is not None and hasattr(noise_model, "check_signal_range"):
            noise_model.check_signal_range(self.data.values)
        self.device_choice = select_device(device)
        self.device = self.device_choice.device
        mode = cfg.mixed_precision
        self.use_bf16 = mode == "bf16" or (mode == "auto" and bf16_is_fast(self.device))
        self.history: list[dict[str, Any]] = list(initial_model.history) if initial_model else []
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
        TrainingError
            If no epoch has finished yet.
        """
        if self._best_state is None:
            raise TrainingError("no training epoch has finished yet, so there is no model")
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
            previous=self.initial_model.provenance if self.initial_model else None,
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

    def run(self) -> Generator[TrainingEvent, None, TrainedModel]:
        """Train, yielding progress events; return the best model.

        Yields
        ------
        TrainingStarted, StepDone, EpochDone, CollapseRestart, StoppedEarly
            Progress; see :mod:`napari_divnoising.core.training_events`.

        Returns
        -------
        TrainedModel
            The weights of the epoch with the lowest validation loss.

        Raises
        ------
        TrainingError
            If the loss stays non-finite or the posterior keeps collapsing before any
            usable epoch finished.
        """
        cfg, spe = self.config, self.data.steps_per_epoch
        self.likelihood = (
            self.likelihood.to(self.device) if hasattr(self.likelihood, "to") else self.likelihood
        )
        rng = np.random.default_rng([self.seed, 1])
        sampler = PatchSampler(
            self.data.split.train, patch_size=cfg.patch_size, augment=cfg.augment, rng=rng
        )
        generator = torch.Generator(self.device).manual_seed(self.seed)
        lr_schedule = LearningRate(cfg, total_steps=cfg.max_epochs * spe)
        run = self._new_run(0)
        yield TrainingStarted(
            device=self.device_choice.description,
            n_train_planes=len(self.data.split.train),
            n_validation_planes=len(self.data.split.validation),
            validation_is_training=self.data.split.validation_is_training,
            patch_size=cfg.patch_size,
            batch_size=cfg.batch_size,
            steps_per_epoch=spe,
            mixed_precision="bf16" if self.use_bf16 else "off",
            seed=self.seed,
        )
        start = time.perf_counter()
        budget_s = math.inf if cfg.time_budget_minutes is None else 60 * cfg.time_budget_minutes
        first_epoch = len(self.history) + 1
        for epoch in range(first_epoch, first_epoch + cfg.max_epochs):
            epoch_start, losses, kls = time.perf_counter(), [], []
            for step in range(1, spe + 1):
                lr = lr_schedule.at(self.n_steps, time.perf_counter() - start)
                result = self._step(run, sampler, generator, lr)
                if result is not None:
                    losses.append(result[0])
                    kls.append(result[1])
                yield StepDone(epoch, step, spe, math.nan if result is None else result[0])
                if run.n_bad_steps >= cfg.max_nonfinite_steps:
                    message = (
                        f"the loss or its gradient was NaN/inf for {run.n_bad_steps} consecutive "
                        f"steps (epoch {epoch}, step {step}); lower the learning rate or check "
                        "that the noise model covers the intensities of the images"
                    )
                    if self._best_state is None:
                        raise TrainingError(f"training failed: {message}")
                    yield StoppedEarly(epoch, "non_finite", f"stopped: {message}")
                    return self.best_model()
                self.train_seconds = time.perf_counter() - start
                if self.train_seconds >= budget_s:
                    break
            if not losses:
                continue
            kl = float(np.mean(kls))
            if kl < cfg.collapse_kl_threshold:
                self.n_restarts += 1
                if self.n_restarts > cfg.max_collapse_restarts:
                    reason = (
                        f"the posterior collapsed (KL {kl:.2e} per pixel) again after "
                        f"{cfg.max_collapse_restarts} restart(s): the network ignores the images;"
                        " check the noise model (is the noise much larger than the signal?)"
                    )
                    if self._best_state is None:
                        raise TrainingError(reason)
                    yield StoppedEarly(epoch, "collapse", reason)
                    return self.best_model()
                # A collapsed model is useless: forget it, start afresh with KL warm-up.
                run = self._new_run(self.n_restarts)
                self._best_state, self._best_val = None, math.inf
                yield CollapseRestart(
                    epoch,
                    self.n_restarts,
                    kl,
                    f"posterior collapse (KL {kl:.2e} per pixel < {cfg.collapse_kl_threshold:g}):"
                    f" restarting from fresh weights with the KL weight rising over "
                    f"{cfg.collapse_warmup_steps} steps",
                )
                continue
            val_loss = self.validation_loss(run.network)
            is_best = math.isfinite(val_loss) and val_loss < self._best_val
            if is_best:
                self._best_val, run.since_best = val_loss, 0
                self._best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in run.network.state_dict().items()
                }
            else:
                run.since_best += 1
            lr_schedule.end_epoch(val_loss)
            event = EpochDone(
                epoch=epoch,
                train_loss=float(np.mean(losses)),
                val_loss=val_loss,
                kl=kl,
                lr=run.optimizer.param_groups[0]["lr"],
                elapsed_s=time.perf_counter() - start,
                is_best=is_best,
                patches_per_s=len(losses) * cfg.batch_size / (time.perf_counter() - epoch_start),
            )
            self.history.append({k: getattr(event, k) for k in event.__dataclass_fields__})
            yield event
            if self.train_seconds >= budget_s:
                minutes = cfg.time_budget_minutes
                yield StoppedEarly(
                    epoch, "time_budget", f"the time budget of {minutes:g} min was spent"
                )
                break
            if run.since_best >= cfg.early_stopping_patience:
                reason = f"the validation loss did not improve for {run.since_best} epochs"
                yield StoppedEarly(epoch, "patience", reason)
                break
        return self.best_model()


def train(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    noise_model: Any = None,
    gaussian_sigma: float | None = None,
    config: TrainingConfig | None = None,
    network_config: NetworkConfig | None = None,
    device: str = "auto",
    initial_model: TrainedModel | None = None,
    progress: Callable[[TrainingEvent], None] | None = None,
) -> TrainedModel:
    """Train a DivNoising model to the end (blocking); see :class:`Trainer`.

    Parameters
    ----------
    images, noise_model, gaussian_sigma, config, network_config, device, initial_model
        As for :class:`Trainer`.
    progress : callable, optional
        Called with every event.

    Returns
    -------
    TrainedModel
        The model of the best validation epoch.
    """
    trainer = Trainer(
        images,
        noise_model=noise_model,
        gaussian_sigma=gaussian_sigma,
        config=config,
        network_config=network_config,
        device=device,
        initial_model=initial_model,
    )
    return run_generator(trainer.run(), progress)
