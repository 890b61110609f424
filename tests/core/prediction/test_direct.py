"""The direct MMSE through the prediction path: every plane, named apart from the sampled MMSE."""

from __future__ import annotations

import numpy as np
import pytest

from napari_divnoising.core.errors import SettingsError
from napari_divnoising.core.model.config import DirectConfig
from napari_divnoising.core.model.direct import build_direct_network
from napari_divnoising.core.prediction.config import sampling_config
from napari_divnoising.core.prediction.direct import direct_mmse
from napari_divnoising.core.prediction.results import result_names
from napari_divnoising.core.prediction.sampling import predict_direct

from .test_sampling import DATA_MEAN, DATA_STD, _tiny_model


def with_direct_network(model):
    """`model` with an untrained direct network whose output is not the identity."""
    network = build_direct_network(depth=2, n_filters=4, seed=0)
    for parameter in network.output.parameters():  # not the identity: a real correction
        parameter.data.normal_(0.0, 0.1)
    model.direct_network, model.direct_config = network.eval(), DirectConfig(depth=2, n_filters=4)
    return model


@pytest.fixture
def model_with_direct():
    return with_direct_network(_tiny_model())


def test_every_plane_of_a_stack_gets_its_direct_mmse(model_with_direct, rng):
    stack = (DATA_MEAN + DATA_STD * rng.normal(size=(3, 40, 56))).astype(np.float32)
    result = predict_direct(stack, model_with_direct, device="cpu")
    assert result.mmse is None and result.uncertainty is None
    assert result.direct_mmse.shape == stack.shape and result.direct_mmse.dtype == np.float32
    for index, plane in enumerate(stack):
        expected = direct_mmse(
            plane, model_with_direct.direct_network, data_mean=DATA_MEAN, data_std=DATA_STD
        )
        np.testing.assert_array_equal(result.direct_mmse[index], expected)
    assert not np.allclose(result.direct_mmse, stack)


def test_the_direct_result_has_a_name_of_its_own():
    assert result_names(sampling_config(direct=True)) == ["direct_mmse"]
    assert "direct_mmse" not in result_names(sampling_config())


def test_a_model_without_a_direct_network_is_refused_with_the_way_to_train_one(rng):
    image = rng.normal(size=(32, 32)).astype(np.float32)
    with pytest.raises(SettingsError, match="--direct-from"):
        predict_direct(image, _tiny_model(), device="cpu")
