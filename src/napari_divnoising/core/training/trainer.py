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

from ..errors import RunFailedError
from ..events import (
    CollapseRestart,
    EpochDone,
    Progress,
    StoppedEarly,
    TrainingStarted,
    budget_status,
    run_generator,
)
from ..model.config import NetworkConfig, TrainingConfig
from ..model.trained import TrainedModel
from .history import validation_trend
from .state import TrainingState, _Loop, _NonFinite
from .uncertainty_calibration import iter_calibrate_held_back

__all__ = ["Trainer", "train"]

STAGE = "training"


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

    def _collapse_message(self, kl: float) -> str:
        return (
            f"the posterior collapsed (KL {kl:.2e} per pixel) again after "
            f"{self.config.max_collapse_restarts} restart(s): the network ignores the images; "
            "check the noise model (is the noise much larger than the signal?)"
        )

    def _event(self, loop: _Loop, **fields: Any) -> Progress:
        """Return an event: the steps of this call, or the time budget's share if larger."""
        done = self.n_steps - loop.first_step
        fraction = done / loop.total_steps
        if math.isfinite(loop.budget_s):
            fraction = max(fraction, self.train_seconds / loop.budget_s)
            elapsed, loss = self.train_seconds, fields.get("loss")  # the clock, not epochs
            fields.setdefault("status", budget_status(STAGE, elapsed, loop.budget_s, done, loss))
        return Progress(STAGE, done, loop.total_steps, fraction=min(1.0, fraction), **fields)

    def _started(self, loop: _Loop) -> Progress:
        started = TrainingStarted(
            device=self.device_choice.description,
            n_train_planes=len(self.data.split.train),
            n_validation_planes=len(self.data.split.validation),
            validation_is_training=self.data.split.validation_is_training,
            patch_size=self.config.patch_size,
            batch_size=self.config.batch_size,
            steps_per_epoch=loop.steps_per_epoch,
            mixed_precision="bf16" if self.use_bf16 else "off",
            seed=self.seed,
        )
        message = (
            f"training on {started.device}; {started.n_train_planes} training and "
            f"{started.n_validation_planes} validation planes, patches {started.patch_size}², "
            f"batch {started.batch_size}, {started.steps_per_epoch} steps per epoch"
        )
        return self._event(loop, message=message, payload=started)

    def _collapse_restart(self, loop: _Loop, epoch: int, kl: float) -> Progress | None:
        """Count a collapse and restart; the restart event, or None to stop.

        Raises
        ------
        RunFailedError
            If the restarts are used up and no epoch is worth keeping.
        """
        self.n_restarts += 1
        if self.n_restarts > self.config.max_collapse_restarts:
            if self._best_state is None:
                raise RunFailedError(self._collapse_message(kl))
            return None
        # Collapsed epochs are never kept as best, so the best weights so far stay.
        loop.run = self._new_run(self.n_restarts)
        message = (
            f"posterior collapse (KL {kl:.2e} per pixel < {self.config.collapse_kl_threshold:g}):"
            " restarting from fresh weights with the KL weight rising over "
            f"{self.config.collapse_warmup_steps} steps"
        )
        return self._event(
            loop, message=message, payload=CollapseRestart(epoch, self.n_restarts, kl)
        )

    def _finish_epoch(
        self, loop: _Loop, epoch: int, losses: list[float], kl: float, epoch_start: float
    ) -> EpochDone:
        """Validate, keep the weights if best, record the epoch."""
        run = loop.run
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
        epoch_done = EpochDone(
            epoch=epoch,
            train_loss=float(np.mean(losses)),
            val_loss=val_loss,
            kl=kl,
            lr=run.optimizer.param_groups[0]["lr"],
            elapsed_s=now - loop.start,
            is_best=is_best,
            patches_per_s=len(losses) * self.config.batch_size / (now - epoch_start),
        )
        self.history.append(epoch_done.as_record())
        loop.lr_schedule.end_epoch(val_loss)
        return epoch_done

    def _steps(
        self, loop: _Loop, epoch: int
    ) -> Generator[Progress, None, tuple[list[float], list[float]]]:
        """One epoch of optimisation steps; return the losses and KLs of the finite ones.

        Raises
        ------
        _NonFinite
            When the loss stayed NaN/inf for `max_nonfinite_steps` steps in a row.
        """
        losses: list[float] = []
        kls: list[float] = []
        for step in range(1, loop.steps_per_epoch + 1):
            lr = loop.lr_schedule.at(self.n_steps, time.perf_counter() - loop.start)
            result = self._step(loop.run, loop.sampler, loop.generator, lr)
            if result is not None:
                losses.append(result[0])
                kls.append(result[1])
            self.train_seconds = time.perf_counter() - loop.start
            loss = math.nan if result is None else result[0]
            yield self._event(
                loop,
                loss=loss,
                status=f"epoch {epoch} · step {step}/{loop.steps_per_epoch} · loss {loss:.4g}",
            )
            if loop.run.n_bad_steps >= self.config.max_nonfinite_steps:
                raise _NonFinite(
                    f"the loss or its gradient was NaN/inf for {loop.run.n_bad_steps} "
                    f"consecutive steps (epoch {epoch}, step {step}); lower the learning rate "
                    "or check that the noise model covers the intensities of the images"
                )
            if self.train_seconds >= loop.budget_s:
                break
        return losses, kls

    def _epoch(self, loop: _Loop, epoch: int) -> Generator[Progress, None, StoppedEarly | None]:
        """Run one epoch; return why training must stop now, or None to go on."""
        epoch_start = time.perf_counter()
        try:
            losses, kls = yield from self._steps(loop, epoch)
        except _NonFinite as failure:
            if self._best_state is None:
                raise RunFailedError(f"training failed: {failure}") from None
            return StoppedEarly(epoch, "non_finite", f"stopped: {failure}")
        if not losses:
            return None
        kl = float(np.mean(kls))
        if kl < self.config.collapse_kl_threshold:
            restart = self._collapse_restart(loop, epoch, kl)
            if restart is None:
                return StoppedEarly(epoch, "collapse", self._collapse_message(kl))
            yield restart
            return None
        done = self._finish_epoch(loop, epoch, losses, kl, epoch_start)
        yield self._event(loop, message=_epoch_line(done), payload=done)
        if self.train_seconds >= loop.budget_s:
            minutes = self.config.time_budget_minutes
            trend = validation_trend(self.history)
            spent = f"the time budget of {minutes:g} min was spent. {trend}"
            return StoppedEarly(epoch, "time_budget", spent)
        if loop.run.since_best >= self.config.early_stopping_patience:
            reason = f"the validation loss did not improve for {loop.run.since_best} epochs"
            return StoppedEarly(epoch, "patience", reason)
        return None

    def run(self) -> Generator[Progress, None, TrainedModel]:
        """Train, yielding progress events; return the best model.

        Yields
        ------
        Progress
            One per step; the first carries a :class:`TrainingStarted` payload, and events
            with :class:`EpochDone`, :class:`CollapseRestart` or :class:`StoppedEarly`
            payloads report the epochs and why training ended early.

        Returns
        -------
        TrainedModel
            The weights of the epoch with the lowest validation loss.

        Raises
        ------
        RunFailedError
            If the loss stays non-finite or the posterior keeps collapsing before any
            usable epoch finished.
        """
        loop = self._start_loop()
        yield self._started(loop)
        first_epoch = len(self.history) + 1
        for epoch in range(first_epoch, first_epoch + self.config.max_epochs):
            stop = yield from self._epoch(loop, epoch)
            if stop is not None:
                yield self._event(loop, message=stop.reason, payload=stop)
                break
        model = self.best_model()
        if self.config.calibrate_uncertainty:
            model.uncertainty_calibration = yield from iter_calibrate_held_back(
                model, self.data.split, seed=self.seed, device=self.device
            )
        return model


def _epoch_line(done: EpochDone) -> str:
    mark = " *" if done.is_best else ""
    return (
        f"epoch {done.epoch:4d}  train {done.train_loss:.4f}  val {done.val_loss:.4f}  "
        f"kl {done.kl:.4f}  lr {done.lr:.2e}  {done.elapsed_s:6.0f} s{mark}"
    )


def train(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    noise_model: Any = None,
    gaussian_sigma: float | None = None,
    config: TrainingConfig | None = None,
    network_config: NetworkConfig | None = None,
    device: str = "auto",
    initial_model: TrainedModel | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> TrainedModel:
    """Train a DivNoising model to the end (blocking); see :class:`Trainer`.

    Parameters
    ----------
    images, noise_model, gaussian_sigma, config, network_config, device, initial_model
        As for :class:`Trainer`; `noise_model` and `initial_model` may also be the paths
        of their files (``.npz``/``.npy``, ``.divnoising``).
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
