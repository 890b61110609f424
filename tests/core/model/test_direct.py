"""The direct network: a U-Net that starts as the identity and keeps image shapes."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from napari_divnoising.core.model.config import DirectConfig
from napari_divnoising.core.model.direct import build_direct_network


@pytest.mark.parametrize(("depth", "side"), [(1, 6), (2, 12), (3, 40)])
def test_the_output_has_the_input_s_shape(depth, side):
    network = build_direct_network(depth=depth, n_filters=4, seed=0)
    assert network.size_multiple == 2**depth
    x = torch.randn(2, 1, side * 2**depth // 2, side * 2**depth // 2 + 2**depth)
    assert network(x).shape == x.shape


def test_an_untrained_network_returns_its_input():
    # the correction starts at zero: before training, the MMSE estimate is the image itself
    network = build_direct_network(depth=2, n_filters=4, seed=1)
    x = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(network(x), x)


def test_the_seed_fixes_the_weights_and_leaves_torch_s_random_state_alone():
    state = torch.random.get_rng_state()
    first = build_direct_network(depth=2, n_filters=4, seed=3)
    second = build_direct_network(depth=2, n_filters=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_architecture_rebuilds_from_its_config_dict():
    network = build_direct_network(depth=3, n_filters=6, seed=0)
    rebuilt = build_direct_network(**network.config_dict())
    rebuilt.load_state_dict(network.state_dict())


@pytest.mark.parametrize(
    ("field", "value"),
    [("depth", 0), ("n_filters", 2), ("samples_per_target", 0), ("time_budget_minutes", 0)],
)
def test_settings_out_of_range_are_refused_with_the_field_named(field, value):
    with pytest.raises(ValidationError, match=field):
        DirectConfig(**{field: value})
