"""Catalogue rows: the scripting API given the wrong kind of argument.

Each row is one thing a script writer does: passes None, a file name where an object is
expected (accepted for models, refused for images), a list of arrays of different sizes.
The error must be a :class:`DivNoisingError` that names the argument, never an
``AttributeError`` from deep inside.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_divnoising import (
    DivNoising,
    fit_noise_model,
    load_noise_model,
    sample_posterior,
    train,
)
from napari_divnoising.core.errors import InputError, ModelFileError, SettingsError
from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig


def _tiny_training() -> dict:
    return {
        "config": TrainingConfig(max_epochs=1, patch_size=32, batch_size=4, steps_per_epoch=2),
        "network_config": NetworkConfig(n_filters=4),
        "device": "cpu",
    }


@pytest.fixture
def image(workspace) -> np.ndarray:
    return tifffile.imread(workspace.first_frame)


# -- sample_posterior -----------------------------------------------------------------------


def test_sampling_without_a_model_names_the_argument(image):
    with pytest.raises(InputError, match=r"^`model` must be a trained model .*\(got None\)$"):
        sample_posterior(image, None)


def test_sampling_with_something_else_as_model_says_what_it_got(image):
    with pytest.raises(InputError, match=r"`model` must be a trained model .*\(got a dict\)"):
        sample_posterior(image, {"weights": 1})


@pytest.mark.parametrize("as_text", [True, False], ids=["str", "Path"])
def test_sampling_with_the_path_of_a_model_file_loads_it(workspace, image, as_text):
    model = str(workspace.model) if as_text else workspace.model
    result = sample_posterior(image, model, n_samples=2, device="cpu")
    assert result.mmse.shape == image.shape
    assert np.isfinite(result.mmse).all()


def test_sampling_with_a_missing_model_file_names_the_file(workspace, image):
    missing = workspace.path("missing.divnoising")
    with pytest.raises(
        ModelFileError, match=r"`model`: there is no file at .*missing\.divnoising"
    ):
        sample_posterior(image, missing)


def test_sampling_with_a_noise_model_file_as_model_says_it_is_no_model(workspace, image):
    with pytest.raises(ModelFileError, match=r"nm\.npz.* not a napari-divnoising model"):
        sample_posterior(image, workspace.noise_model)


def test_sampling_a_file_name_instead_of_an_image_is_refused(workspace):
    with pytest.raises(InputError, match=r"^`image` must be an image array, not a file name"):
        sample_posterior(str(workspace.first_frame), workspace.model)


def test_sampling_none_as_image_is_refused(workspace):
    with pytest.raises(InputError, match=r"^`image` must be an image: .*\(got None\)$"):
        sample_posterior(None, workspace.model)


def test_sampling_a_list_of_images_of_different_sizes_is_refused(workspace, image):
    images = [image, image[:32, :48]]
    with pytest.raises(InputError, match=r"`image` must be one array.*\(64, 64\), \(32, 48\)"):
        sample_posterior(images, workspace.model)


# -- train ----------------------------------------------------------------------------------


def test_training_with_the_path_of_a_noise_model_file_loads_it(workspace, image):
    model = train(image, noise_model=str(workspace.noise_model), **_tiny_training())
    assert model.noise_model is not None and model.gaussian_sigma is None
    assert len(model.history) == 1


def test_training_with_a_missing_noise_model_file_names_it(workspace, image):
    with pytest.raises(ModelFileError, match=r"^`noise_model`: there is no file at .*nm2\.npz"):
        train(image, noise_model=workspace.path("nm2.npz"), **_tiny_training())


def test_training_with_a_model_file_as_noise_model_says_what_the_file_is(workspace, image):
    with pytest.raises(ModelFileError, match=r"`noise_model`: .* is a trained DivNoising model"):
        train(image, noise_model=workspace.model, **_tiny_training())


def test_training_with_a_number_as_noise_model_says_what_it_got(image):
    with pytest.raises(InputError, match=r"^`noise_model` must be a noise model .*\(got 10\.0\)$"):
        train(image, noise_model=10.0, **_tiny_training())


def test_training_on_a_file_name_is_refused(workspace):
    with pytest.raises(InputError, match=r"^`images` must be an image array, not a file name"):
        train(str(workspace.noisy), noise_model=workspace.noise_model, **_tiny_training())


def test_training_on_a_list_holding_none_names_the_item(workspace, image):
    with pytest.raises(InputError, match=r"^`images\[1\]` must be an image: .*\(got None\)$"):
        train([image, None], noise_model=workspace.noise_model, **_tiny_training())


# -- DivNoising -----------------------------------------------------------------------------


def test_a_denoiser_without_a_likelihood_is_refused_at_construction():
    with pytest.raises(
        SettingsError, match=r"`noise_model` or a `gaussian_sigma` \(got neither\)"
    ):
        DivNoising(None)


def test_a_denoiser_with_text_as_noise_model_names_the_argument():
    with pytest.raises(ModelFileError, match=r"^`noise_model`: there is no file at 'not a model'"):
        DivNoising(noise_model="not a model")


def test_a_denoiser_with_a_noise_model_file_loads_it(workspace):
    denoiser = DivNoising(noise_model=workspace.noise_model)
    assert callable(denoiser.noise_model.log_likelihood)


def test_loading_a_denoiser_from_none_names_the_argument():
    with pytest.raises(InputError, match=r"^`path` must be the path of .*\(got None\)$"):
        DivNoising.load(None)


def test_loading_a_denoiser_from_a_missing_file_names_the_file(workspace):
    with pytest.raises(ModelFileError, match=r"^`path`: there is no file at .*gone\.divnoising"):
        DivNoising.load(workspace.path("gone.divnoising"))


# -- fit_noise_model / load_noise_model -----------------------------------------------------


def test_fitting_lists_of_arrays_of_different_shapes_says_so_not_nan():
    rng = np.random.default_rng(0)
    signal = [rng.uniform(10, 100, (20, 20)), rng.uniform(10, 100, (30, 30))]
    observation = [s + rng.normal(0, 1, s.shape) for s in signal]
    with pytest.raises(
        InputError, match=r"^`signal` must be one array.*\(20, 20\), \(30, 30\)"
    ) as info:
        fit_noise_model(signal, observation)
    assert "NaN" not in str(info.value) and "inf" not in str(info.value)


def test_fitting_a_ragged_nested_list_says_what_is_expected():
    with pytest.raises(
        InputError, match=r"^`signal` must be one array.*rows of shapes \(2,\), \(1,\)"
    ):
        fit_noise_model([[1, 2], [3]], [[1, 2], [3]])


def test_fitting_a_constant_uint8_image_shows_a_plain_number():
    constant = np.full((64, 64), 7, np.uint8)
    with pytest.raises(InputError, match=r"`signal` is constant \(every pixel is 7\)") as info:
        fit_noise_model(constant, constant)
    assert "np." not in str(info.value)


def test_loading_a_text_file_as_noise_model_says_it_is_not_numpy(workspace):
    notes = workspace.path("notes.txt")
    notes.write_text("gain 2.1, offset 100\n")
    with pytest.raises(ModelFileError, match=r"notes\.txt is not a NumPy \.npy/\.npz file"):
        load_noise_model(notes)


def test_loading_a_model_file_as_noise_model_says_what_the_file_holds(workspace):
    with pytest.raises(ModelFileError, match=r"model\.divnoising is a zip/\.npz file with keys"):
        load_noise_model(workspace.model)
