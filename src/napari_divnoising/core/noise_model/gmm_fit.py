"""The Gaussian-mixture fit: Adam on the mixture's polynomial coefficients.

The learning rate warms up, then follows a cosine decay over ``n_iterations``. With
``stop_when_converged`` the fit watches the mean loss of successive windows of
:data:`WINDOW` steps; once a window is no better than the one before by twice the standard
error of their difference (the batches' own noise, so the test adapts to the data and the
batch size), the rate anneals from where it is to its final value over a tenth of
``n_iterations`` and the fit ends. On the FMD calibration stacks the loss levels off after
about 300 of the 2,000 default steps.

Every step yields a :class:`FitSoFar` payload, from which a consumer that stops the fit
keeps the model as it stands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..decay import cosine_decay
from ..errors import RunFailedError
from ..events import Progress
from ._starting_point import binned_variance, coefficient_scale, default_min_sigma, initial_weight
from .base import NoiseModel
from .pair_sampler import PairSampler

__all__ = ["FitSoFar", "fit_gmm"]

#: Pairs drawn once to set the starting point and the default variance floor.
PILOT_PAIRS = 1 << 19
#: Fraction of the iterations spent warming the learning rate up, and its final fraction.
WARMUP_FRACTION = 0.05
FINAL_LR_FRACTION = 0.01
#: Non-finite steps tolerated (each restores the last finite weights, halves the rate).
MAX_NONFINITE_STEPS = 5
#: Steps per window of the convergence test, and the share of the iterations the final
#: annealing takes (at least one window).
WINDOW = 100
ANNEAL_FRACTION = 0.1
_STAGE = "fitting noise model"


@dataclass(frozen=True)
class FitSoFar:
    """The fit as it stands after `iteration` steps: what Stop keeps.

    Attributes
    ----------
    iteration : int
        Steps taken.
    model : callable
        Builds the noise model of the latest finite weights (cheap: a few numbers).
    """

    iteration: int
    model: Callable[[], NoiseModel]


class _Schedule:
    """Warm-up and cosine decay, cut short by a final annealing once converged."""

    def __init__(self, total: int, *, stop_when_converged: bool) -> None:
        self.total, self.watch = total, stop_when_converged
        self.warmup = max(1, int(WARMUP_FRACTION * total))
        self.anneal = max(WINDOW, int(ANNEAL_FRACTION * total))
        self.converged_at: int | None = None
        self._from = 1.0
        self._losses: list[float] = []
        self._previous: np.ndarray | None = None

    def factor(self, step: int) -> float:
        if self.converged_at is not None:
            done = (step - self.converged_at) / self.anneal
            final = FINAL_LR_FRACTION
            return final + (self._from - final) * 0.5 * (1.0 + math.cos(math.pi * min(done, 1)))
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        return cosine_decay(progress, final=FINAL_LR_FRACTION)

    def last_step(self) -> int:
        if self.converged_at is None:
            return self.total
        return min(self.total, self.converged_at + self.anneal)

    def record(self, step: int, loss: float) -> None:
        """Note a finite step's loss; start the final annealing once it levels off."""
        if not self.watch or self.converged_at is not None or step < self.warmup:
            return
        self._losses.append(loss)
        if len(self._losses) < WINDOW:
            return
        window, self._losses = np.asarray(self._losses), []
        previous, self._previous = self._previous, window
        if previous is None:
            return
        spread = math.sqrt((window.var(ddof=1) + previous.var(ddof=1)) / WINDOW)
        if previous.mean() - window.mean() < 2.0 * spread and self.last_step_after(step):
            self.converged_at, self._from = step + 1, self.factor(step)

    def last_step_after(self, step: int) -> bool:
        """Whether annealing from here still ends before the planned last step."""
        return step + 1 + self.anneal < self.total


def fit_gmm(
    sampler: PairSampler,
    *,
    settings: dict[str, Any],
    metadata: Callable[[dict[str, Any]], dict[str, Any]],
) -> Generator[Progress, None, NoiseModel]:
    """Fit the GMM to the pairs of `sampler`; yield a progress event per step."""
    import torch

    # heavy: the mixture's math and model import torch; importing the fit must not
    from ._mixture import TOL, log_likelihood_from_weight
    from .gmm import GaussianMixtureNoiseModel

    n_gaussian, n_coeff = settings["n_gaussian"], settings["n_coeff"]
    n_iterations, base_lr = settings["n_iterations"], settings["learning_rate"]
    pilot_signal, pilot_observation = sampler.draw(PILOT_PAIRS)
    stats = binned_variance(
        pilot_signal.astype(np.float64), pilot_observation.astype(np.float64), n_bins=64
    )
    min_sigma = settings["min_sigma"]
    if min_sigma is None:
        min_sigma = default_min_sigma(stats, integer_data=sampler.integer_data)
    ranges = {"min_signal": sampler.min_signal, "max_signal": sampler.max_signal}
    start = initial_weight(stats, n_gaussian=n_gaussian, n_coeff=n_coeff, **ranges)
    scale = torch.as_tensor(
        coefficient_scale(stats, pilot_signal, n_gaussian=n_gaussian, n_coeff=n_coeff, **ranges),
        dtype=torch.float32,
    )
    theta = torch.nn.Parameter(torch.as_tensor(start, dtype=torch.float32) / scale)
    optimizer = torch.optim.Adam([theta], lr=base_lr)
    schedule = _Schedule(n_iterations, stop_when_converged=settings["stop_when_converged"])
    last_finite, penalty, failures, last_loss = theta.detach().clone(), 1.0, 0, math.nan
    fit = {**settings, "min_sigma": min_sigma}

    def model_of(weight: torch.Tensor, steps: int) -> NoiseModel:
        record = {
            **fit,
            "nonfinite_steps": failures,
            "final_loss": last_loss,
            "iterations_run": steps,
            "converged_at": schedule.converged_at,
        }
        return GaussianMixtureNoiseModel(
            (weight * scale).numpy(), min_sigma=min_sigma, metadata=metadata(record), **ranges
        )

    step = 0
    while step < schedule.last_step():
        signal, observation = sampler.draw(settings["batch_size"])
        log_p = log_likelihood_from_weight(
            theta * scale,
            torch.from_numpy(observation),
            torch.from_numpy(signal),
            min_sigma=min_sigma,
            floor=TOL,
            **ranges,
        )
        loss = -log_p.mean()
        optimizer.zero_grad()
        loss.backward()
        finite = bool(torch.isfinite(loss) and torch.isfinite(theta.grad).all())
        if finite:
            for group in optimizer.param_groups:
                group["lr"] = base_lr * penalty * schedule.factor(step)
            optimizer.step()
            finite = bool(torch.isfinite(theta).all())
        if finite:
            last_finite, last_loss = theta.detach().clone(), float(loss.detach())
            schedule.record(step, last_loss)
        else:
            # Restore the last finite weights and go on more gently, with a fresh optimiser.
            failures += 1
            if failures > MAX_NONFINITE_STEPS:
                raise RunFailedError(
                    f"the noise model fit produced NaN/inf {failures} times (last at step "
                    f"{step + 1}); try a smaller learning_rate (got {base_lr}) or a larger "
                    f"min_sigma (got {min_sigma:.6g})"
                )
            with torch.no_grad():
                theta.copy_(last_finite)
            penalty *= 0.5
            optimizer = torch.optim.Adam([theta], lr=base_lr * penalty)
        step += 1
        so_far = FitSoFar(step, lambda weight=last_finite, done=step: model_of(weight, done))
        total = schedule.last_step()
        yield Progress(_STAGE, step, total, last_loss if finite else None, payload=so_far)
    return model_of(last_finite, step)
