"""Posterior sampling: shapes, tiling without seams, stacks, seeds, memory, MAP, TTA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.events import Progress
from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
from napari_divnoising.core.model.network import DivNoisingVAE
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.prediction import runtime as _runtime
from napari_divnoising.core.prediction.posterior import Moments
from napari_divnoising.core.prediction.sampling import (
    Prediction,
    iter_sample_posterior,
    sample_posterior,
)

DATA_MEAN, DATA_STD = 100.0, 20.0


def _output_layer(network: torch.nn.Module) -> torch.nn.Conv2d:
    return [layer for layer in network.modules() if isinstance(layer, torch.nn.Conv2d)][-1]


def _tiny_model(seed: int = 7) -> TrainedModel:
    config = NetworkConfig(depth=2, n_filters=8, z_dim=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = DivNoisingVAE(**config.network_kwargs())
    with torch.no_grad():
        # Random weights give nearly constant outputs; amplify them so samples differ.
        _output_layer(network).weight.mul_(40.0)
        network.logvar_head.bias.add_(1.0)
    return TrainedModel(
        network=network.eval(),
        network_config=config,
        training_config=TrainingConfig(),
        data_mean=DATA_MEAN,
        data_std=DATA_STD,
        gaussian_sigma=5.0,
    )


@pytest.fixture
def tiny_model() -> TrainedModel:
    return _tiny_model()


@pytest.fixture
def noisy(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:96, :128]
    signal = DATA_MEAN + 30.0 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    return (signal + rng.normal(0.0, 10.0, signal.shape)).astype(np.float32)


@pytest.fixture
def float32_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decode in float32 so that tiled and untiled results agree to rounding."""
    monkeypatch.setattr(_runtime, "decode_precision", lambda device: torch.float32)


def test_mmse_shape_dtype_and_spread(tiny_model, noisy):
    result = sample_posterior(noisy, tiny_model, n_samples=6, device="cpu")
    assert isinstance(result, Prediction)
    assert result.mmse.shape == noisy.shape and result.mmse.dtype == np.float32
    assert result.uncertainty.shape == noisy.shape and result.uncertainty.dtype == np.float32
    assert result.map is None and result.samples is None
    assert np.isfinite(result.mmse).all()
    assert result.uncertainty.min() >= 0 and result.uncertainty.mean() > 0.05


def test_optional_outputs_are_none_when_not_asked(tiny_model, noisy):
    result = sample_posterior(noisy, tiny_model, n_samples=2, uncertainty=False, device="cpu")
    assert result.uncertainty is None and result.map is None and result.samples is None


@pytest.mark.parametrize("shape", [(37, 53), (4, 4), (2, 2, 21, 18)])
def test_odd_sizes_and_stacks_keep_the_input_shape(tiny_model, rng, shape):
    image = rng.normal(DATA_MEAN, 10.0, shape).astype(np.uint16)
    result = sample_posterior(
        image, tiny_model, n_samples=3, keep_samples=2, map_estimate=True, device="cpu"
    )
    for array in (result.mmse, result.uncertainty, result.map):
        assert array.shape == shape and array.dtype == np.float32
        assert np.isfinite(array).all()
    assert result.samples.shape == (2, *shape)


def test_stack_planes_match_planes_sampled_alone(tiny_model, noisy, float32_decoder):
    stack = np.stack([noisy, noisy[::-1].copy()])
    both = sample_posterior(stack, tiny_model, n_samples=4, device="cpu")
    alone = sample_posterior(noisy, tiny_model, n_samples=4, device="cpu")
    # Plane 0 uses the same noise stream as a lone image; plane 1 has its own.
    np.testing.assert_allclose(both.mmse[0], alone.mmse, atol=1e-3)
    assert not np.allclose(both.mmse[1][::-1], alone.mmse, atol=1e-2)


def test_progress_counts_samples_over_planes_and_tiles(tiny_model, rng):
    stack = rng.normal(DATA_MEAN, 10.0, (3, 40, 72)).astype(np.float32)
    events = []
    sample_posterior(
        stack,
        tiny_model,
        n_samples=5,
        batch_size=2,
        tile_size=48,
        tta=False,
        device="cpu",
        progress=events.append,
    )
    assert all(isinstance(event, Progress) for event in events)
    steps = [event.step for event in events]
    assert steps == sorted(steps) and steps[-1] == events[-1].total
    tiles_per_plane = events[-1].total // (3 * 5)
    assert tiles_per_plane >= 2
    assert len(events) == 3 * tiles_per_plane * 3  # batches of 2, 2, 1


def test_tiled_equals_untiled_without_seams(tiny_model, noisy, float32_decoder):
    untiled = sample_posterior(noisy, tiny_model, n_samples=4, keep_samples=1, device="cpu")
    tiled = sample_posterior(
        noisy,
        tiny_model,
        n_samples=4,
        keep_samples=1,
        tile_size=64,
        batch_size=3,
        device="cpu",
    )
    # The latent noise follows the global grid and the blend ignores each tile's
    # receptive-field border, so the results agree everywhere, not only in the interior.
    # (Tolerance: float32 rounding, which differs with the convolution's tile shape.)
    tolerance = 1e-3 * DATA_STD
    np.testing.assert_allclose(tiled.mmse, untiled.mmse, atol=tolerance)
    np.testing.assert_allclose(tiled.uncertainty, untiled.uncertainty, atol=tolerance)
    np.testing.assert_allclose(tiled.samples, untiled.samples, atol=tolerance)


def test_tiled_agrees_with_untiled_in_reduced_precision(tiny_model, noisy):
    # bfloat16 (where the CPU has it) rounds hidden activations to 8 bits, and the
    # rounding depends on the tile's shape: differences stay at that level, < 1% of σ_data.
    untiled = sample_posterior(noisy, tiny_model, n_samples=4, device="cpu")
    tiled = sample_posterior(noisy, tiny_model, n_samples=4, tile_size=64, device="cpu")
    tolerance = 0.01 * DATA_STD
    assert np.abs(tiled.mmse - untiled.mmse).max() < tolerance
    # No seams: jumps across tile boundaries are no larger than jumps elsewhere.
    steps = np.abs(np.diff(tiled.mmse, axis=1))
    reference = np.abs(np.diff(untiled.mmse, axis=1))
    assert steps.max() <= reference.max() + tolerance


def test_same_seed_same_result_other_seed_differs(tiny_model, noisy):
    first = sample_posterior(noisy, tiny_model, n_samples=3, seed=5, device="cpu")
    again = sample_posterior(noisy, tiny_model, n_samples=3, seed=5, batch_size=1, device="cpu")
    other = sample_posterior(noisy, tiny_model, n_samples=3, seed=6, device="cpu")
    np.testing.assert_allclose(again.mmse, first.mmse, atol=1e-4)
    assert np.abs(other.mmse - first.mmse).max() > 1e-2


def test_sampling_leaves_model_and_global_random_state_alone(tiny_model, noisy):
    state = torch.get_rng_state()
    weight = _output_layer(tiny_model.network).weight
    before = weight.detach().clone()
    sample_posterior(noisy, tiny_model, n_samples=2, device="cpu")
    assert torch.equal(torch.get_rng_state(), state)
    assert _output_layer(tiny_model.network).weight is weight
    assert torch.equal(weight, before) and weight.is_contiguous()


def test_kept_samples_are_the_samples_behind_mmse_and_uncertainty(tiny_model, noisy):
    result = sample_posterior(
        noisy, tiny_model, n_samples=5, keep_samples=5, tta=False, device="cpu"
    )
    assert result.samples.shape == (5, *noisy.shape)
    np.testing.assert_allclose(result.samples.mean(0), result.mmse, atol=1e-3)
    np.testing.assert_allclose(result.samples.std(0), result.uncertainty, atol=1e-3)


def test_with_tta_the_kept_samples_are_those_behind_the_mmse(tiny_model, noisy):
    result = sample_posterior(noisy, tiny_model, n_samples=16, keep_samples=16, device="cpu")
    assert result.samples.shape == (16, *noisy.shape)
    np.testing.assert_allclose(result.samples.mean(0), result.mmse, atol=1e-3)
    np.testing.assert_allclose(result.samples.std(0), result.uncertainty, atol=1e-3)


def test_moments_hold_two_tile_arrays_whatever_the_sample_count(rng):
    batches = rng.normal(3.0, 2.0, (7, 5, 6, 4)).astype(np.float32)
    moments = Moments()
    for batch in batches:
        moments.update(torch.from_numpy(batch))
        assert moments.mean.shape == moments.m2.shape == (6, 4)
    every = batches.reshape(35, 6, 4)
    assert moments.count == 35
    assert vars(moments).keys() == {"count", "mean", "m2"}
    np.testing.assert_allclose(moments.mean.numpy(), every.mean(0), rtol=1e-5)
    np.testing.assert_allclose(moments.variance.numpy(), every.var(0), rtol=1e-4)


def test_array_memory_does_not_grow_with_the_number_of_samples(tiny_model, noisy):
    import tracemalloc

    peaks = []
    for n_samples in (2, 24):
        tracemalloc.start()
        sample_posterior(noisy, tiny_model, n_samples=n_samples, tile_size=64, device="cpu")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # numpy buffers are traced: a per-sample array would add 24 × 48 KiB here.
    assert peaks[1] < peaks[0] + 200_000


def test_map_estimate_is_close_to_mmse_for_a_unimodal_posterior(tiny_model, noisy):
    result = sample_posterior(
        noisy, tiny_model, n_samples=16, map_estimate=True, tta=False, device="cpu"
    )
    assert result.map.shape == noisy.shape and np.isfinite(result.map).all()
    difference = np.abs(result.map - result.mmse)
    assert difference.mean() < 0.5 * result.uncertainty.mean()


def test_tta_pools_the_eight_augmentations(rng):
    # With a (near) zero posterior variance every sample is the decoded mean, so TTA must
    # give the mean, and the spread, of the 8 restored single-augmentation predictions.
    model = _tiny_model()
    with torch.no_grad():
        model.network.logvar_head.bias.fill_(-30.0)
    image = rng.normal(DATA_MEAN, 10.0, (24, 40)).astype(np.float32)
    result = sample_posterior(image, model, n_samples=2, tta=True, keep_samples=1, device="cpu")
    restored = []
    for flip in (False, True):
        for turns in range(4):
            view = np.rot90(image, turns)
            view = view[:, ::-1] if flip else view
            mmse = sample_posterior(view.copy(), model, n_samples=1, tta=False, device="cpu").mmse
            mmse = mmse[:, ::-1] if flip else mmse
            restored.append(np.rot90(mmse, -turns))
    restored = np.array(restored)
    assert result.mmse.shape == result.uncertainty.shape == image.shape
    assert result.samples.shape == (1, *image.shape)
    np.testing.assert_allclose(result.mmse, restored.mean(0), atol=0.05)
    np.testing.assert_allclose(result.uncertainty, restored.std(0), atol=0.05)
    assert restored.std(0).mean() > 0.5  # the augmentations do disagree


def test_tta_spreads_the_samples_over_the_eight_views(tiny_model, rng):
    # The pooled MMSE costs what the plain one does; a MAP needs all of the identity's.
    image = rng.normal(DATA_MEAN, 10.0, (32, 32)).astype(np.float32)

    def decoded(**options) -> int:
        events = []
        sample_posterior(
            image, tiny_model, n_samples=16, device="cpu", progress=events.append, **options
        )
        return events[-1].total

    assert decoded() == decoded(tta=False) == 16
    assert decoded(map_estimate=True) == 16 + 7 * 2
    assert decoded(keep_samples=5) == 16  # kept from the views' own samples


def test_tta_on_a_non_square_image(tiny_model, rng):
    image = rng.normal(DATA_MEAN, 10.0, (24, 40)).astype(np.float32)
    result = sample_posterior(image, tiny_model, n_samples=2, tta=True, device="cpu")
    assert result.mmse.shape == (24, 40) and np.isfinite(result.uncertainty).all()


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((32, 32, 3)) + np.arange(3), "RGB"),
        (np.full((32, 32), np.nan), "NaN"),
        (np.full((32, 32), 7.0), "constant"),
        (np.arange(9.0).reshape(3, 3), "at least 4×4"),
        (None, r"`image` must be an image: .*\(got None\)"),
        ("frame0.tif", "`image` must be an image array, not a file name"),
        ([np.ones((8, 8)), np.ones((8, 12))], r"of shapes \(8, 8\), \(8, 12\)"),
    ],
)
def test_bad_images_fail_before_any_work(tiny_model, image, match):
    with pytest.raises(InputError, match=match):
        iter_sample_posterior(image, tiny_model, device="cpu")


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            None,
            r"^`model` must be a trained model or the path of a \.divnoising file \(got None\)$",
        ),
        (3, r"\(got 3\)$"),
        (torch.nn.Conv2d(1, 1, 1), r"\(got a Conv2d\)$"),
    ],
)
def test_something_else_than_a_model_fails_before_any_work(noisy, model, match):
    with pytest.raises(InputError, match=match):
        iter_sample_posterior(noisy, model, device="cpu")


def test_the_path_of_a_saved_model_samples_as_the_model_does(tiny_model, noisy, tmp_path):
    from napari_divnoising.core.model_files.bundle import save_model

    path = save_model(tiny_model, tmp_path / "tiny.divnoising")
    from_file = sample_posterior(noisy, str(path), n_samples=3, seed=4, device="cpu")
    in_memory = sample_posterior(noisy, tiny_model, n_samples=3, seed=4, device="cpu")
    np.testing.assert_array_equal(from_file.mmse, in_memory.mmse)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 3, "keep_samples": 4}, "keep_samples"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"tile_size": 32, "tile_overlap": 32}, "tile_overlap"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_settings_fail_before_any_work(tiny_model, noisy, options, match):
    with pytest.raises(ValueError, match=match):
        iter_sample_posterior(noisy, tiny_model, **options)


def test_warns_when_image_is_outside_the_noise_model_range(noisy):
    from napari_divnoising.core.noise_model.base import NoiseModelRangeWarning
    from napari_divnoising.core.noise_model.gmm import GaussianMixtureNoiseModel

    model = _tiny_model()
    noise_model = GaussianMixtureNoiseModel(
        np.zeros((3, 2)), min_signal=0.0, max_signal=20.0, min_sigma=1.0
    )
    model = TrainedModel(
        network=model.network,
        network_config=model.network_config,
        training_config=model.training_config,
        data_mean=DATA_MEAN,
        data_std=DATA_STD,
        noise_model=noise_model,
    )
    with pytest.warns(NoiseModelRangeWarning, match="noise model was fitted"):
        iter_sample_posterior(noisy, model, device="cpu")


def test_the_prediction_carries_the_settings_it_used(tiny_model, noisy):
    from napari_divnoising.core.prediction.config import SamplingConfig

    result = sample_posterior(noisy, tiny_model, n_samples=2, seed=3, tile_size=64, device="cpu")
    assert result.settings == SamplingConfig(n_samples=2, seed=3, tile_size=64)


def test_a_tiny_tile_is_refused_before_any_work(tiny_model, noisy):
    with pytest.raises(ValueError, match="tile_size"):
        iter_sample_posterior(noisy, tiny_model, tile_size=3, device="cpu")


def test_the_detail_restored_mmse_comes_with_the_mmse_unless_turned_off(tiny_model, noisy):
    from napari_divnoising.core.model.likelihood import GaussianLikelihood
    from napari_divnoising.core.prediction.detail import restore_detail

    prediction = sample_posterior(noisy, tiny_model, n_samples=4, uncertainty=False)
    likelihood = tiny_model.noise_model or GaussianLikelihood(tiny_model.gaussian_sigma)
    expected, _ = restore_detail(prediction.mmse, noisy, likelihood)
    np.testing.assert_array_equal(prediction.restored, expected)
    assert prediction.settings.restore_detail
    plain = sample_posterior(noisy, tiny_model, n_samples=4, restore_detail=False)
    assert plain.restored is None
    np.testing.assert_array_equal(plain.mmse, prediction.mmse)
