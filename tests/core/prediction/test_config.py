"""The sampling settings: limits, messages, and one set of defaults for every caller."""

from __future__ import annotations

import inspect

import pytest
from pydantic import ValidationError

from napari_divnoising.core.errors import SettingsError
from napari_divnoising.core.prediction.config import (
    MIN_TILE_SIZE,
    SamplingConfig,
    sampling_config,
)
from napari_divnoising.core.prediction.sampling import iter_sample_posterior


def test_the_sampling_function_has_the_settings_defaults():
    parameters = inspect.signature(iter_sample_posterior).parameters
    # `direct` is not a sampling setting: iter_predict_direct asks for it
    fields = set(SamplingConfig.model_fields) - {"version", "direct"}
    assert fields <= set(parameters)
    for name in fields:
        assert parameters[name].default == SamplingConfig.model_fields[name].default, name


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"n_samples": 0}, "`n_samples` must be ≥ 1 (got 0)"),
        ({"tile_size": 3}, f"`tile_size` must be ≥ {MIN_TILE_SIZE} (got 3)"),
        ({"seed": 2**32}, "`seed` must be ≤"),
        ({"n_samples": 3, "keep_samples": 4}, "`keep_samples` must be at most `n_samples`"),
        ({"tile_overlap": -1}, "`tile_overlap` must be ≥ 0"),
        ({"samples": 3}, "`samples` is not a known setting"),
    ],
)
def test_bad_settings_are_one_line_naming_the_argument(values, message):
    with pytest.raises(SettingsError) as caught:
        sampling_config(**values)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_smallest_tile_and_none_for_derived_values_are_allowed():
    settings = SamplingConfig(tile_size=MIN_TILE_SIZE, tile_overlap=0, batch_size=1)
    assert settings.tile_size == MIN_TILE_SIZE
    assert SamplingConfig().tile_size is None and SamplingConfig().batch_size is None


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        SamplingConfig().n_samples = 3  # type: ignore[misc]


def test_direct_turns_off_what_only_the_sampler_gives():
    settings = sampling_config(direct=True)
    assert not (settings.uncertainty or settings.restore_detail or settings.tta)


@pytest.mark.parametrize(
    "asked",
    [{"uncertainty": True}, {"map_estimate": True}, {"interval": 0.9}, {"keep_samples": 2}],
)
def test_direct_with_a_result_of_the_sampler_is_one_line_naming_it(asked):
    with pytest.raises(SettingsError, match=f"`{next(iter(asked))}` need the posterior sampler"):
        sampling_config(direct=True, **asked)
