"""Training: reproducibility, stopping, guards, data handling, continuing."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import InputError, ModelFileError, RunFailedError
from napari_divnoising.core.events import (
    CollapseRestart,
    EpochDone,
    Progress,
    StoppedEarly,
    TrainingStarted,
    payloads,
)
from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.model_files.bundle import load_model, save_model
from napari_divnoising.core.training.trainer import Trainer, train

TINY_NET = NetworkConfig(depth=2, n_filters=4, z_dim=4)


def tiny_config(**changes) -> TrainingConfig:
    settings = {
        "patch_size": 16,
        "batch_size": 4,
        "steps_per_epoch": 3,
        "max_epochs": 3,
        "validation_patches": 4,
        "seed": 7,
        "mixed_precision": "off",
        "collapse_kl_threshold": 0.0,
    }
    settings.update(changes)
    return TrainingConfig(**settings)


@pytest.fixture
def noisy_stack(rng) -> np.ndarray:
    """Four 32×32 planes: bright squares on a dark background with Gaussian noise."""
    signal = np.full((4, 32, 32), 20.0)
    signal[:, 8:24, 8:24] = 80.0
    return (signal + rng.normal(0, 10, signal.shape)).astype(np.float32)


def run_all(trainer: Trainer) -> tuple[list, TrainedModel]:
    events = []
    generator = trainer.run()
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


def test_events_and_returned_model(noisy_stack):
    trainer = Trainer(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(),
        network_config=TINY_NET,
        device="cpu",
    )
    events, model = run_all(trainer)
    assert all(isinstance(e, Progress) for e in events)
    stages = list(dict.fromkeys(e.stage for e in events))
    assert stages == ["training", "calibrating uncertainty"]  # then the calibration
    started = events[0].payload
    assert isinstance(started, TrainingStarted)
    assert "CPU" in started.device and "training on" in events[0].message
    assert (started.n_train_planes, started.n_validation_planes) == (3, 1)
    epochs = payloads(events, EpochDone)
    steps = [e for e in events if e.loss is not None]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert len(steps) == 9 and steps[-1].status.startswith("epoch 3 · step 3/3")
    # The producer computes progress: it only grows, and ends with all steps done.
    fractions = [e.fraction for e in events if e.stage == "training"]
    assert fractions == sorted(fractions) and steps[-1].step == steps[-1].total == 9
    assert fractions[-1] == pytest.approx(1.0)
    assert all(
        e.message.startswith(f"epoch {e.payload.epoch:4d}")
        for e in events
        if isinstance(e.payload, EpochDone)
    )
    assert all(math.isfinite(e.val_loss) and e.kl > 0 and e.lr > 0 for e in epochs)
    assert isinstance(model, TrainedModel) and len(model.history) == 3
    assert model.provenance["seed"] == 7
    assert model.provenance["training_data_shapes"] == [[4, 32, 32]]
    assert not model.network.training


@pytest.mark.parametrize("precision", ["off", "bf16"])
def test_seed_makes_cpu_training_reproducible(noisy_stack, precision):
    config = tiny_config(mixed_precision=precision, max_epochs=2)
    runs = [
        train(
            noisy_stack, gaussian_sigma=10.0, config=config, network_config=TINY_NET, device="cpu"
        )
        for _ in range(2)
    ]
    assert state_equal(runs[0].network, runs[1].network)
    assert [h["val_loss"] for h in runs[0].history] == [h["val_loss"] for h in runs[1].history]
    other = train(
        noisy_stack,
        gaussian_sigma=10.0,
        config=config.model_copy(update={"seed": 8}),
        network_config=TINY_NET,
        device="cpu",
    )
    assert not state_equal(runs[0].network, other.network)


def test_training_does_not_touch_global_rng_or_input(noisy_stack):
    before = noisy_stack.copy()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    assert torch.equal(torch.rand(3), expected)
    np.testing.assert_array_equal(noisy_stack, before)


def test_stopping_mid_training_keeps_best_weights(noisy_stack):
    trainer = Trainer(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=10, learning_rate=3e-3),
        network_config=TINY_NET,
        device="cpu",
    )
    generator = trainer.run()
    with pytest.raises(RunFailedError, match="no training epoch has finished"):
        trainer.best_model()
    epochs = []
    for event in generator:
        if isinstance(event.payload, EpochDone):
            epochs.append(event.payload)
            if len(epochs) == 4:
                break
        if len(epochs) == 3 and event.loss is not None:
            break  # stop in the middle of epoch 4
    generator.close()
    model = trainer.best_model()
    best = min(epochs, key=lambda e: e.val_loss)
    assert best.is_best
    assert trainer.validation_loss(model.network) == pytest.approx(best.val_loss, rel=1e-6)
    assert len(model.history) == 3


def test_stop_before_first_epoch_gives_clear_error(noisy_stack):
    trainer = Trainer(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(),
        network_config=TINY_NET,
        device="cpu",
    )
    generator = trainer.run()
    next(generator)
    next(generator)  # the first step
    generator.close()
    with pytest.raises(RunFailedError, match="no training epoch has finished yet"):
        trainer.best_model()


def test_collapse_guard_restarts_a_collapsed_model(noisy_stack):
    collapsed = train(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    with torch.no_grad():  # force the posterior onto the prior: mu = 0, logvar = 0
        for head in (collapsed.network.mu_head, collapsed.network.logvar_head):
            head.weight.zero_()
            head.bias.zero_()
    config = tiny_config(collapse_kl_threshold=1e-6, max_collapse_restarts=1, max_epochs=3)
    # A huge σ makes the reconstruction term negligible, so nothing pulls the model out.
    trainer = Trainer(
        noisy_stack, gaussian_sigma=1e6, config=config, device="cpu", initial_model=collapsed
    )
    events, model = run_all(trainer)
    restarts = payloads(events, CollapseRestart)
    assert len(restarts) == 1 and restarts[0].restart == 1
    (restart_event,) = [e for e in events if isinstance(e.payload, CollapseRestart)]
    assert restarts[0].kl < 1e-6 and "collapse" in restart_event.message
    assert all(e.kl >= 1e-6 for e in payloads(events, EpochDone))
    assert model.history[-1]["kl"] >= 1e-6


def test_collapse_that_persists_stops_with_clear_error(noisy_stack):
    config = tiny_config(collapse_kl_threshold=1e3, max_collapse_restarts=2, max_epochs=5)
    trainer = Trainer(
        noisy_stack, gaussian_sigma=10.0, config=config, network_config=TINY_NET, device="cpu"
    )
    with pytest.raises(RunFailedError, match=r"posterior collapsed .* again after 2 restart"):
        run_all(trainer)


class NaNLikelihood:
    """A Gaussian likelihood that returns NaN on chosen calls (training only: it cannot
    simulate noise, so the tests that use it train without the uncertainty calibration)."""

    def __init__(self, bad_calls) -> None:
        self.bad_calls, self.calls = bad_calls, 0

    def to(self, device):
        return self

    def log_likelihood(self, observation, signal):
        self.calls += 1
        value = -0.5 * ((observation - signal) / 10.0) ** 2
        return value * math.nan if self.bad_calls(self.calls) else value


def test_nan_losses_are_skipped_and_never_reach_the_weights(noisy_stack):
    # Calls 2, 5, 8, ... are training steps or validation passes made NaN.
    trainer = Trainer(
        noisy_stack,
        noise_model=NaNLikelihood(lambda n: n % 3 == 2),
        config=tiny_config(calibrate_uncertainty=False),
        network_config=TINY_NET,
        device="cpu",
    )
    events, model = run_all(trainer)
    skipped = [e for e in events if e.loss is not None and math.isnan(e.loss)]
    assert skipped
    assert all(torch.isfinite(p).all() for p in model.network.parameters())


def test_nan_from_the_start_stops_with_clear_error(noisy_stack):
    trainer = Trainer(
        noisy_stack,
        noise_model=NaNLikelihood(lambda n: True),
        config=tiny_config(max_nonfinite_steps=4),
        network_config=TINY_NET,
        device="cpu",
    )
    with pytest.raises(RunFailedError, match="NaN/inf for 4 consecutive steps"):
        run_all(trainer)


def test_nan_after_a_good_epoch_stops_and_keeps_the_best(noisy_stack, tmp_path):
    config = tiny_config(max_nonfinite_steps=2, max_epochs=5, calibrate_uncertainty=False)
    # 3 training steps + 1 validation pass per epoch: NaN from the second epoch on.
    trainer = Trainer(
        noisy_stack,
        noise_model=NaNLikelihood(lambda n: n > 4),
        config=config,
        network_config=TINY_NET,
        device="cpu",
    )
    events, model = run_all(trainer)
    stop = events[-1].payload
    assert isinstance(stop, StoppedEarly) and stop.kind == "non_finite"
    assert "NaN/inf" in stop.reason and events[-1].message == stop.reason
    assert len(model.history) == 1
    model.gaussian_sigma, model.noise_model = 10.0, None  # the fake likelihood cannot be saved
    save_model(model, tmp_path / "m.divnoising")


def test_time_budget_stops_after_one_epoch(noisy_stack):
    config = tiny_config(time_budget_minutes=1e-6, max_epochs=50)
    events, model = run_all(
        Trainer(
            noisy_stack, gaussian_sigma=10.0, config=config, network_config=TINY_NET, device="cpu"
        )
    )
    stops = payloads(events, StoppedEarly)
    assert [s.kind for s in stops] == ["time_budget"]
    assert len(model.history) == 1
    # The user learns whether more minutes would help (here: too little to tell).
    assert "Too few epochs" in stops[0].reason
    # Under a budget the status counts time, not epochs against their upper bound.
    epoch_statuses = [e.status for e in events if isinstance(e.payload, EpochDone)]
    clock = re.compile(r"^training: \d+:\d\d of 0:00 · \d+ steps?( · loss .*)?$")
    assert epoch_statuses and all(clock.match(status) for status in epoch_statuses)
    assert not any("/50" in e.status for e in events)


def test_initial_model_and_noise_model_may_be_file_paths(noisy_stack, tmp_path):
    first = train(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    path = save_model(first, tmp_path / "first.divnoising")
    second = train(
        noisy_stack, config=tiny_config(max_epochs=1), device="cpu", initial_model=str(path)
    )
    assert [h["epoch"] for h in second.history] == [1, 2]
    assert second.gaussian_sigma == 10.0 and second.network_config == TINY_NET
    with pytest.raises(ModelFileError, match=r"^`noise_model`: .* is a trained DivNoising model"):
        Trainer(noisy_stack, noise_model=path, config=tiny_config(), device="cpu")


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"images": None}, r"^`images` must be an image: .*\(got None\)$"),
        ({"images": "noisy.tif"}, r"^`images` must be an image array, not a file name"),
        ({"noise_model": 5}, r"^`noise_model` must be a noise model .*\(got 5\)$"),
        ({"initial_model": {}}, r"^`initial_model` must be a trained model .*\(got a dict\)$"),
    ],
)
def test_arguments_of_the_wrong_kind_are_named(noisy_stack, arguments, match):
    arguments = {"images": noisy_stack, "gaussian_sigma": 10.0, **arguments}
    if "noise_model" in arguments:
        del arguments["gaussian_sigma"]
    with pytest.raises(InputError, match=match):
        Trainer(**arguments, config=tiny_config(), network_config=TINY_NET, device="cpu")


def test_continue_training_from_a_saved_bundle(noisy_stack, tmp_path):
    first = train(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=2),
        network_config=TINY_NET,
        device="cpu",
    )
    path = save_model(first, tmp_path / "first.divnoising")
    loaded = load_model(path)
    trainer = Trainer(
        noisy_stack, config=tiny_config(max_epochs=1), device="cpu", initial_model=loaded
    )
    # Same seed and data: the same validation patches score the loaded (best) weights.
    best_val = min(h["val_loss"] for h in first.history)
    assert trainer.validation_loss(loaded.network) == pytest.approx(best_val, rel=1e-6)
    events, second = run_all(trainer)
    assert [e.epoch for e in payloads(events, EpochDone)] == [3]
    assert [h["epoch"] for h in second.history] == [1, 2, 3]
    assert second.gaussian_sigma == 10.0
    assert (second.data_mean, second.data_std) == (first.data_mean, first.data_std)
    assert second.network_config == TINY_NET
    assert second.provenance["continued_from"]["seed"] == 7


@pytest.mark.parametrize("shape", [(37, 45), (2, 3, 33, 40), (16, 16)])
def test_odd_shapes_and_stacks(rng, shape):
    image = rng.normal(50, 10, shape).astype(np.float32)
    model = train(
        image,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    n_planes = int(np.prod(shape[:-2]))
    assert model.provenance["n_train_planes"] + model.provenance["n_validation_planes"] >= n_planes
    assert model.provenance["training_data_shapes"] == [list(shape)]


def test_list_of_images_of_different_sizes(rng):
    images = [rng.normal(50, 10, (20, 40)), rng.normal(50, 10, (3, 24, 24)).astype(np.uint16)]
    model = train(
        images,
        gaussian_sigma=10.0,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    assert model.provenance["n_train_planes"] + model.provenance["n_validation_planes"] == 4


def test_image_smaller_than_patch_says_minimum_size(rng):
    with pytest.raises(
        InputError, match=r"12×40 pixels .* at least 16×16; use a patch size of at most 12"
    ):
        Trainer(
            rng.normal(size=(12, 40)),
            gaussian_sigma=1.0,
            config=tiny_config(),
            network_config=TINY_NET,
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "exactly one likelihood"),
        (
            {"gaussian_sigma": 1.0, "noise_model": NaNLikelihood(bool)},
            ValueError,
            "exactly one likelihood",
        ),
        ({"gaussian_sigma": -1.0}, ValueError, "positive number"),
        (
            {"gaussian_sigma": 1.0, "config": tiny_config(patch_size=18)},
            ValueError,
            "multiple of 2\\*\\*depth = 4",
        ),
        ({"gaussian_sigma": 1.0, "device": "tpu"}, ValueError, "`device` must be one of"),
    ],
)
def test_bad_arguments(noisy_stack, kwargs, error, match):
    kwargs.setdefault("config", tiny_config())
    with pytest.raises(error, match=match):
        Trainer(noisy_stack, network_config=TINY_NET, **kwargs)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((32, 32)), "constant"),
        (np.full((32, 32), np.nan), "NaN"),
        (np.zeros(32), "must be 2D"),
        ([], "no images"),
    ],
)
def test_bad_images(image, match):
    with pytest.raises(InputError, match=match):
        Trainer(image, gaussian_sigma=1.0, config=tiny_config(), network_config=TINY_NET)


def test_training_with_a_fitted_noise_model(rng):
    noise_models = pytest.importorskip("napari_divnoising.core.noise_model")
    signal = np.broadcast_to(np.linspace(20, 120, 32)[None, :], (4, 32, 32))
    observation = rng.poisson(signal).astype(np.float32)
    noise_model = noise_models.fit_noise_model(
        signal, observation, n_iterations=20, batch_size=2000
    )
    model = train(
        observation,
        noise_model=noise_model,
        config=tiny_config(max_epochs=1),
        network_config=TINY_NET,
        device="cpu",
    )
    assert model.noise_model is noise_model and model.gaussian_sigma is None
    assert math.isfinite(model.history[0]["val_loss"])


def test_images_outside_the_noise_model_range_warn(rng):
    noise_models = pytest.importorskip("napari_divnoising.core.noise_model")
    signal = np.broadcast_to(np.linspace(20, 40, 32)[None, :], (4, 32, 32))
    noise_model = noise_models.fit_noise_model(
        signal, rng.poisson(signal), n_iterations=5, batch_size=500
    )
    with pytest.warns(noise_models.NoiseModelRangeWarning, match="`images` spans intensities"):
        Trainer(
            rng.uniform(0, 1000, (2, 32, 32)),
            noise_model=noise_model,
            config=tiny_config(),
            network_config=TINY_NET,
        )
