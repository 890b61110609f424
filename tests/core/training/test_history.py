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
    # Like 5 minutes on FMD: a steep first minute, then a few thousandths of a nat per
    # pixel in the second half; the next 10 minutes were worth more than 1 dB there.
    falling = epochs([3.4, 2.5944, 2.5910, 2.5883])
    assert late_improvement(falling) == pytest.approx(0.0061)
    assert "still falling" in validation_trend(falling)
    assert "0.0061 nats per pixel" in validation_trend(falling)


def test_a_slow_fall_says_more_training_may_help_a_little():
    assert "falling slowly" in validation_trend(epochs([3.0, 2.0, 2.0, 1.999, 1.998]))


def test_a_flat_second_half_says_longer_training_is_unlikely_to_help():
    flat = epochs([3.0, 1.0, 1.0, 1.0004, 0.9995, 1.0])
    assert late_improvement(flat) == pytest.approx(0.0005)
    assert "levelled off" in validation_trend(flat)


def test_only_the_last_training_call_counts_when_training_was_continued():
    first = epochs([3.0, 2.0, 1.5, 1.0])
    continued = epochs([1.0, 0.99, 0.99, 0.99, 0.99])  # the clock restarts at 10 s
    assert late_improvement(first + continued) == pytest.approx(0.0)


def test_too_few_or_non_finite_epochs_say_so_instead_of_guessing():
    assert late_improvement(epochs([2.0, 1.0])) is None
    assert late_improvement(epochs([math.nan, 1.0, math.inf, 1.0])) is None
    assert late_improvement(epochs([2.0, 2.0, 2.0, 2.5])) == 0.0
    assert "Too few" in validation_trend(epochs([2.0, 1.0, 0.5]))


def test_a_training_warning_for_few_epochs_or_a_steep_fall_only():
    from napari_divnoising.core.training.history import training_warning

    def epochs(losses):
        return [
            {"epoch": i, "val_loss": v, "elapsed_s": 10.0 * i}
            for i, v in enumerate(losses, start=1)
        ]

    assert "only 3 epochs" in training_warning(epochs([3.0, 2.5, 2.4]))
    steep = epochs([3.0 - 0.05 * i for i in range(20)])  # 0.5 nats in the second half
    assert "still falling steeply" in training_warning(steep)
    usable = epochs([2.5 - 0.004 * i for i in range(20)])  # 0.04 nats: could improve, fine
    assert training_warning(usable) is None
    assert training_warning([]) is None
