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
from typing import Any

import numpy as np
import torch

from ._training_state import TrainingError, TrainingState, _Run
from .bundle import TrainedModel
from .config import NetworkConfig, TrainingConfig
from .events import run_generator
from .patches import PatchSampler
from .schedules import LearningRate
from .training_events import (
    CollapseRestart,
    EpochDone,
    StepDone,
    StoppedEarly,
    TrainingEvent,
    TrainingStarted,
)

__all__ = ["Trainer", "TrainingError", "train"]


class Trainer(TrainingState):
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

    def _collapse_message(self, kl: float) -> str:
        return (
            f"the posterior collapsed (KL {kl:.2e} per pixel) again after "
            f"{self.config.max_collapse_restarts} restart(s): the network ignores the images; "
            "check the noise model (is the noise much larger than the signal?)"
        )

    def _collapse_restart(self, epoch: int, kl: float) -> CollapseRestart | None:
        """Count a collapse; the restart event, or None to stop (raise if nothing to keep)."""
        self.n_restarts += 1
        if self.n_restarts > self.config.max_collapse_restarts:
            if self._best_state is None:
                raise TrainingError(self._collapse_message(kl))
            return None
        # Collapsed epochs are never kept as best, so the best weights so far stay.
        return CollapseRestart(
            epoch,
            self.n_restarts,
            kl,
            f"posterior collapse (KL {kl:.2e} per pixel < {self.config.collapse_kl_threshold:g}):"
            " restarting from fresh weights with the KL weight rising over "
            f"{self.config.collapse_warmup_steps} steps",
        )

    def _finish_epoch(
        self,
        run: _Run,
        epoch: int,
        losses: list[float],
        kl: float,
        start: float,
        epoch_start: float,
    ) -> EpochDone:
        """Validate, keep the weights if best, record the epoch."""
        val_loss = self.validation_loss(run.network)
        is_best = math.isfinite(val_loss) and val_loss < self._best_val
        if is_best:
            self._best_val, run.since_best = val_loss, 0
            self._best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in run.network.state_dict().items()
            }
        else:
            run.since_best += 1
        now = time.perf_counter()
        event = EpochDone(
            epoch=epoch,
            train_loss=float(np.mean(losses)),
            val_loss=val_loss,
            kl=kl,
            lr=run.optimizer.param_groups[0]["lr"],
            elapsed_s=now - start,
            is_best=is_best,
            patches_per_s=len(losses) * self.config.batch_size / (now - epoch_start),
        )
        self.history.append({k: getattr(event, k) for k in event.__dataclass_fields__})
        return event

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
                restart = self._collapse_restart(epoch, kl)
                if restart is None:
                    yield StoppedEarly(epoch, "collapse", self._collapse_message(kl))
                    return self.best_model()
                run = self._new_run(self.n_restarts)
                yield restart
                continue
            event = self._finish_epoch(run, epoch, losses, kl, start, epoch_start)
            lr_schedule.end_epoch(event.val_loss)
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
