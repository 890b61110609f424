"""What a model's history says about the kept epoch and whether more training would help."""

from __future__ import annotations

import math

import pytest

from napari_divnoising.core.training.history import (
    describe_history,
    late_improvement,
    validation_trend,
)


def epochs(losses: list[float], *, seconds_per_epoch: float = 10.0) -> list[dict]:
    return [
        {"epoch": index, "val_loss": loss, "elapsed_s": seconds_per_epoch * index}
        for index, loss in enumerate(losses, start=1)
    ]


def test_describe_history_names_the_kept_epoch():
    assert describe_history(epochs([3.0, 2.0, 2.5])).startswith("3 epoch(s); kept epoch 2")
    assert describe_history([]) == "No epoch finished."


def test_a_loss_still_falling_in_the_second_half_says_more_training_helps():
    falling = epochs([3.0, 2.0, 1.6, 1.4, 1.2, 1.0])  # the second half bought 0.6 of 2.0
    assert late_improvement(falling) == pytest.approx(0.3)
    assert "still falling" in validation_trend(falling)
    assert "30%" in validation_trend(falling)


def test_a_flat_second_half_says_longer_training_is_unlikely_to_help():
    flat = epochs([3.0, 1.0, 1.0, 1.001, 0.999, 1.0])
    assert late_improvement(flat) == pytest.approx(0.0005, rel=0.01)
    assert "levelled off" in validation_trend(flat)


def test_only_the_last_training_call_counts_when_training_was_continued():
    first = epochs([3.0, 2.0, 1.5, 1.0])
    continued = epochs([1.0, 0.99, 0.99, 0.99, 0.99])  # the clock restarts at 10 s
    assert late_improvement(first + continued) == pytest.approx(0.0)


def test_too_few_or_non_finite_epochs_say_so_instead_of_guessing():
    assert late_improvement(epochs([2.0, 1.0])) is None
    assert late_improvement(epochs([math.nan, 1.0, math.inf, 1.0])) is None
    assert "Too few" in validation_trend(epochs([2.0, 2.0, 2.0, 2.0]))
