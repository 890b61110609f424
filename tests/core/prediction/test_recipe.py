"""Step 3's recipe: one entry, three targets, the same results as the functions behind it."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from napari_divnoising.core.model_files.bundle import save_model
from napari_divnoising.core.prediction.config import SamplingConfig
from napari_divnoising.core.prediction.recipe import PlaneTarget, ZarrTarget, predict
from napari_divnoising.core.prediction.results import Prediction, StackPrediction
from napari_divnoising.core.prediction.sampling import sample_posterior

from .test_sampling import DATA_MEAN, _tiny_model

SETTINGS = SamplingConfig(n_samples=4, keep_samples=2, seed=3)


@pytest.fixture
def stack(rng) -> np.ndarray:
    return rng.normal(DATA_MEAN, 10.0, (3, 32, 40)).astype(np.float32)


def test_without_a_target_it_is_the_in_memory_prediction(stack):
    model = _tiny_model()
    result = predict(stack, model, SETTINGS, device="cpu")
    expected = sample_posterior(
        stack, model, device="cpu", **SETTINGS.model_dump(exclude={"version", "direct"})
    )
    assert isinstance(result, Prediction) and result.settings == SETTINGS
    np.testing.assert_array_equal(result.mmse, expected.mmse)
    assert result.samples.shape == (2, *stack.shape)


def test_one_plane_equals_that_plane_of_the_stack_and_keeps_no_samples(stack, tmp_path):
    model = _tiny_model()
    whole = predict(stack, model, SETTINGS, device="cpu")
    path = save_model(model, tmp_path / "model.divnoising")
    plane = predict(stack, path, SETTINGS, target=PlaneTarget(2), device="cpu")
    assert plane.mmse.shape == stack.shape[1:] and plane.samples is None
    np.testing.assert_allclose(plane.mmse, whole.mmse[2], atol=1e-4)


def test_zarr_target_writes_what_memory_gives(stack, tmp_path):
    model = _tiny_model()
    settings = SETTINGS.model_copy(update={"keep_samples": 0})
    written = predict(
        stack, model, settings, target=ZarrTarget(tmp_path / "out", stem="s"), device="cpu"
    )
    assert isinstance(written, StackPrediction) and written.computed == 3
    stored = zarr.open_array(str(written.images["mmse"] / "0"), mode="r")[:]
    in_memory = predict(stack, model, settings, device="cpu").mmse
    np.testing.assert_allclose(stored, in_memory, atol=1e-4)
