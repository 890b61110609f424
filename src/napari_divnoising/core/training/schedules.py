"""Learning-rate and KL-weight schedules of DivNoising training."""

from __future__ import annotations

import math

from ..decay import cosine_decay
from ..model.config import TrainingConfig

__all__ = ["KLWeight", "LearningRate"]


class LearningRate:
    """Warm-up, then either ReduceLROnPlateau or a cosine decay over the run.

    The cosine follows the larger of two progress fractions: steps taken over
    ``max_epochs · steps_per_epoch``, and (with a time budget) seconds spent over the
    budget — so a budgeted run always ends annealed, however fast the machine is.

    Parameters
    ----------
    config : TrainingConfig
        Supplies the rate, the schedule and its parameters.
    total_steps : int
        Steps of a run that uses all its epochs.
    """

    def __init__(self, config: TrainingConfig, *, total_steps: int) -> None:
        self.config = config
        self.total_steps = max(1, total_steps)
        self.budget_s = (
            None if config.time_budget_minutes is None else 60.0 * config.time_budget_minutes
        )
        self.base = config.learning_rate
        self._plateau_best = math.inf
        self._plateau_bad = 0

    def at(self, step: int, elapsed_s: float) -> float:
        """Learning rate for the 0-based `step`, `elapsed_s` seconds into training."""
        cfg = self.config
        rate = self.base
        if cfg.warmup_steps:
            rate *= min(1.0, (step + 1) / cfg.warmup_steps)
        if cfg.resolved_lr_schedule == "cosine":
            fraction = step / self.total_steps
            if self.budget_s is not None:
                fraction = max(fraction, elapsed_s / self.budget_s)
            rate *= cosine_decay(fraction, final=cfg.min_lr_fraction)
        return rate

    def end_epoch(self, val_loss: float) -> None:
        """Feed the epoch's validation loss to the plateau schedule."""
        if self.config.resolved_lr_schedule != "plateau":
            return
        # Relative threshold 1e-4, as torch's ReduceLROnPlateau.
        best = self._plateau_best
        if not math.isfinite(best) or val_loss < best - 1e-4 * abs(best):
            self._plateau_best, self._plateau_bad = val_loss, 0
            return
        self._plateau_bad += 1
        if self._plateau_bad > self.config.lr_patience:
            self.base = max(self.base * self.config.lr_factor, 1e-12)
            self._plateau_bad = 0


class KLWeight:
    """The weight of the KL term: a linear ramp from 0 over `warmup_steps`, then constant.

    Parameters
    ----------
    weight : float
        Final weight (1 is the ELBO).
    warmup_steps : int
        Length of the ramp (0: no ramp).
    start : int
        Step at which the ramp begins.
    """

    def __init__(self, weight: float, *, warmup_steps: int, start: int = 0) -> None:
        self.weight = weight
        self.warmup_steps = warmup_steps
        self.start = start

    def at(self, step: int) -> float:
        """KL weight at the 0-based global `step`."""
        if not self.warmup_steps:
            return self.weight
        return self.weight * min(1.0, max(0, step - self.start + 1) / self.warmup_steps)
