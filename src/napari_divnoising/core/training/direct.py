"""Train the direct network from a trained DivNoising model's posterior.

Each step takes random noisy patches, draws posterior samples of them from the VAE (one
encode, ``samples_per_target`` decodes, no gradients) and moves the direct network towards
their mean with a squared loss, whose optimum is the posterior mean: the MMSE. The best
weights are those closest to a many-sample MMSE of held-out patches, computed once before
the first step. Like the VAE's training, this is a generator of progress events that
returns its result; closing it (Stop) keeps the best network so far.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..decay import cosine_decay
from ..errors import SettingsError
from ..events import Progress, blocking, budget_status
from ..model.config import DirectConfig, TrainingConfig
from ..model.device import bf16_is_fast, select_device
from ..model.direct import DirectNetwork, build_direct_network
from ..validation import as_images
from .patches import PatchSampler, prepare_training_data

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from .trainer import Trainer

__all__ = [
    "DirectTraining",
    "TrainingWithDirect",
    "iter_train_direct",
    "train_direct",
    "with_direct_network",
]

STAGE = "training the direct network"
#: Steps between two validations (each costs about one step's time).
_VALIDATE_EVERY = 50


class DirectTraining:
    """The state of a direct network's training; the best network stays reachable.

    Parameters
    ----------
    model : TrainedModel
        The trained DivNoising model whose posterior the direct network learns.
    images : ndarray or sequence of ndarray
        Noisy images (raw units), such as those the model was trained on.
    config : DirectConfig, optional
        Network size and training settings.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"cuda:N"``.
    """

    def __init__(
        self,
        model: TrainedModel,
        images: np.ndarray | Sequence[np.ndarray],
        *,
        config: DirectConfig | None = None,
        device: str = "auto",
    ) -> None:
        self.config = cfg = config if config is not None else DirectConfig()
        self.seed = (
            cfg.seed if cfg.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        )
        multiple = math.lcm(2**cfg.depth, model.size_multiple)
        if cfg.patch_size % multiple:
            raise SettingsError(
                f"the direct network's `patch_size` must be a multiple of {multiple} "
                f"(got {cfg.patch_size})"
            )
        self.data = prepare_training_data(
            as_images(images),
            config=TrainingConfig(
                patch_size=cfg.patch_size,
                batch_size=cfg.batch_size,
                validation_patches=cfg.validation_patches,
                train_fraction=model.training_config.train_fraction,
            ),
            size_multiple=multiple,
            seed=self.seed,
            normalization=(model.data_mean, model.data_std),
        )
        self.device = select_device(device).device
        self.use_bf16 = bf16_is_fast(self.device)
        self.model = model.to(self.device)
        self.network = build_direct_network(
            seed=self.seed, depth=cfg.depth, n_filters=cfg.n_filters
        )
        self.network.to(self.device, memory_format=torch.channels_last)
        self.best_state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
        self.best_loss = math.inf
        self.n_steps = 0
        self.train_seconds = 0.0

    def best_network(self) -> DirectNetwork:
        """Return a copy of the network with the best validation loss so far, in eval mode."""
        network = build_direct_network(**self.network.config_dict())
        network.load_state_dict(self.best_state)
        return network.to(self.device).eval()

    def posterior_mean(
        self, x: torch.Tensor, n_samples: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Return the mean of `n_samples` posterior samples of normalised patches `x`."""
        vae = self.model.network.eval()
        with (
            torch.no_grad(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16),
        ):
            mu, logvar = vae.encode(x)
            total = torch.zeros_like(x, dtype=torch.float32)
            for _ in range(n_samples):
                total += vae.decode(vae.sample_latent(mu, logvar, generator=generator)).float()
        return total / n_samples

    def run(self) -> Generator[Progress, None, DirectNetwork]:
        """Train until the time budget or `max_steps` ends; return the best network.

        Yields
        ------
        Progress
            After every step; with a message after every validation.
        """
        cfg = self.config
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        sampler = PatchSampler(
            self.data.split.train,
            patch_size=cfg.patch_size,
            augment=True,
            rng=np.random.default_rng([self.seed, 1]),
        )
        validation = self._normalised(self.data.validation_patches)
        yield Progress(STAGE, 0, 1, message="computing the validation patches' MMSE")
        validation_mmse = self.posterior_mean(validation, cfg.validation_samples, generator)
        optimizer = torch.optim.Adam(self.network.parameters(), lr=cfg.learning_rate)
        budget_s = cfg.time_budget_minutes * 60
        loss = None
        while not self._done(budget_s):
            start = time.perf_counter()
            fraction = self._fraction(budget_s)
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate * cosine_decay(fraction, final=0.05)
            x = self._normalised(sampler.sample(cfg.batch_size))
            target = self.posterior_mean(x, cfg.samples_per_target, generator)
            self.network.train()
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16):
                prediction = self.network(x)
            step_loss = torch.nn.functional.mse_loss(prediction, target)
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            optimizer.step()
            self.n_steps += 1
            loss = float(step_loss.detach())
            message = ""
            if self.n_steps % _VALIDATE_EVERY == 0:
                message = self._validate(validation, validation_mmse)
            self.train_seconds += time.perf_counter() - start
            status = budget_status(STAGE, self.train_seconds, budget_s, self.n_steps, loss)
            yield Progress(
                STAGE, self.n_steps, max(self.n_steps, cfg.max_steps or self.n_steps),
                loss=loss, status=status, message=message,
                fraction=min(1.0, self._fraction(budget_s)),
            )  # fmt: skip
        yield Progress(
            STAGE, self.n_steps, self.n_steps, message=self._validate(validation, validation_mmse)
        )
        return self.best_network()

    # -- helpers ---------------------------------------------------------------------------
    def _normalised(self, raw: np.ndarray) -> torch.Tensor:
        x = self.model.normalize(torch.from_numpy(raw).to(self.device))
        return x.contiguous(memory_format=torch.channels_last)

    def _fraction(self, budget_s: float) -> float:
        by_time = self.train_seconds / budget_s
        by_steps = self.n_steps / self.config.max_steps if self.config.max_steps else 0.0
        return max(by_time, by_steps)

    def _done(self, budget_s: float) -> bool:
        return self._fraction(budget_s) >= 1.0

    def _validate(self, validation: torch.Tensor, validation_mmse: torch.Tensor) -> str:
        self.network.eval()
        with torch.no_grad():
            loss = float(torch.nn.functional.mse_loss(self.network(validation), validation_mmse))
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_state = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
        return f"step {self.n_steps:,} · validation {loss:.4g} (best {self.best_loss:.4g})"


def iter_train_direct(
    model: TrainedModel,
    images: np.ndarray | Sequence[np.ndarray],
    *,
    config: DirectConfig | None = None,
    device: str = "auto",
) -> Generator[Progress, None, TrainedModel]:
    """Train a direct network from `model`'s posterior on `images`; yield progress.

    Parameters
    ----------
    model : TrainedModel
        The trained DivNoising model (not changed).
    images : ndarray or sequence of ndarray
        Noisy images like those it was trained on (raw units).
    config : DirectConfig, optional
        The direct network's size and training (5 minutes by default).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"cuda:N"``.

    Returns
    -------
    TrainedModel
        `model` with the best direct network (a new model object sharing its VAE); save it
        with ``save_model`` and predict with ``predict_direct``.
    """
    training = DirectTraining(model, images, config=config, device=device)
    yield from training.run()
    return with_direct_network(model, training)


train_direct = blocking(iter_train_direct)


def with_direct_network(model: TrainedModel, training: DirectTraining) -> TrainedModel:
    """Return `model` with the best direct network of `training` (the model is not changed).

    Parameters
    ----------
    model : TrainedModel
        The DivNoising model the direct network was trained from.
    training : DirectTraining
        The training, finished or stopped.

    Returns
    -------
    TrainedModel
        A new model object sharing `model`'s VAE and noise model, with the direct network.
    """
    if training.n_steps == 0:
        raise SettingsError(
            "the direct network was stopped before its first step: nothing to keep"
        )
    return dataclasses.replace(
        model, direct_network=training.best_network(), direct_config=training.config
    )


class TrainingWithDirect:
    """Train the VAE, then its direct network, as one job; a Stop keeps what is done.

    Parameters
    ----------
    trainer : Trainer
        The VAE's training, not started.
    images : ndarray or sequence of ndarray
        The images the direct network learns on (the trainer's).
    config : DirectConfig
        The direct network's settings.
    """

    def __init__(
        self, trainer: Trainer, images: np.ndarray | Sequence[np.ndarray], config: DirectConfig
    ) -> None:
        self.trainer, self.images, self.config = trainer, images, config
        self.direct: DirectTraining | None = None

    def run(self) -> Generator[Progress, None, TrainedModel]:
        """Yield the progress of both trainings; return the model with its direct network."""
        model = yield from self.trainer.run()
        device = str(self.trainer.device)
        self.direct = DirectTraining(model, self.images, config=self.config, device=device)
        yield from self.direct.run()
        return with_direct_network(model, self.direct)

    def best_model(self) -> TrainedModel:
        """Return the best VAE so far, with the best direct network if one was validated."""
        model = self.trainer.best_model()
        if self.direct is None or not math.isfinite(self.direct.best_loss):
            return model
        return with_direct_network(model, self.direct)
