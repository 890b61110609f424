"""Training and network configurations."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from napari_divnoising.core.model.config import (
    NetworkConfig,
    TrainingConfig,
    default_network_config,
)


def test_reference_defaults():
    config = TrainingConfig()
    assert (config.patch_size, config.batch_size, config.learning_rate) == (128, 32, 1e-3)
    assert (config.train_fraction, config.lr_factor, config.lr_patience) == (0.85, 0.5, 30)
    assert config.early_stopping_patience == 100 and config.augment
    assert config.resolved_lr_schedule == "plateau"
    assert NetworkConfig().network_kwargs() == {
        "depth": 2,
        "n_filters": 32,
        "z_dim": 64,
        "n_conv_per_level": 2,
        "res_blocks": 0,
    }


def test_time_budget_brings_fast_defaults_but_keeps_explicit_values():
    config = TrainingConfig(time_budget_minutes=15)
    assert (config.patch_size, config.batch_size, config.learning_rate) == (64, 32, 3e-3)
    assert config.resolved_lr_schedule == "cosine"
    explicit = TrainingConfig(
        time_budget_minutes=15, patch_size=128, batch_size=16, lr_schedule="plateau"
    )
    assert (explicit.patch_size, explicit.batch_size, explicit.resolved_lr_schedule) == (
        128,
        16,
        "plateau",
    )


def test_round_trip_through_json():
    config = TrainingConfig(time_budget_minutes=2, seed=4)
    assert TrainingConfig.model_validate_json(config.model_dump_json()) == config


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patch_size": 4}, "greater than or equal to 8"),
        ({"train_fraction": 0}, "greater than 0"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"lr_schedule": "step"}, "'auto', 'plateau' or 'cosine'"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"version": 2}, "less than or equal to 1"),
    ],
)
def test_limits(kwargs, match):
    with pytest.raises(pydantic.ValidationError, match=match):
        TrainingConfig(**kwargs)


def test_network_config_is_frozen_and_strict():
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        NetworkConfig(width=3)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        NetworkConfig().depth = 3
    assert NetworkConfig(depth=3).size_multiple == 8


def test_a_time_budget_picks_the_narrower_network_unless_one_is_given():
    assert default_network_config(TrainingConfig()) == NetworkConfig()
    budget_network = default_network_config(TrainingConfig(time_budget_minutes=5))
    # One level, 32 latent channels at half the resolution: 8 latent values per pixel.
    assert (budget_network.depth, budget_network.n_filters, budget_network.z_dim) == (1, 16, 32)
    from napari_divnoising.core.training.trainer import Trainer

    images = np.zeros((2, 32, 32), np.float32) + np.arange(32, dtype=np.float32)
    budget = TrainingConfig(time_budget_minutes=1, patch_size=16)
    assert Trainer(images, gaussian_sigma=1.0, config=budget).network_config.n_filters == 16
    chosen = NetworkConfig(n_filters=8)
    trainer = Trainer(images, gaussian_sigma=1.0, config=budget, network_config=chosen)
    assert trainer.network_config.n_filters == 8


def test_the_reference_preset_keeps_the_reference_settings_with_a_budget():
    config = TrainingConfig(time_budget_minutes=15, preset="reference")
    reference = TrainingConfig()
    assert (config.patch_size, config.batch_size, config.learning_rate) == (
        reference.patch_size,
        reference.batch_size,
        reference.learning_rate,
    )
    assert config.resolved_lr_schedule == "plateau"
    assert default_network_config(config).n_filters == 32
