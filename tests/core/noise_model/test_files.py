from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import ModelFileError
from napari_divnoising.core.model_files import load_noise_model
from napari_divnoising.core.noise_model import (
    GaussianMixtureNoiseModel,
    HistogramNoiseModel,
)
from napari_divnoising.core.noise_model.histogram import build_histogram

from .reference import reference_likelihood


@pytest.fixture
def tiny_histogram(rng) -> HistogramNoiseModel:
    edges = np.linspace(-0.5, 63.5, 33)
    counts = rng.integers(0, 50, (32, 32)).astype(float)
    counts[:3] = 0  # a few empty rows, as real calibrations have
    return HistogramNoiseModel(
        build_histogram(counts, edges), min_signal=6.1, max_signal=60.2, metadata={"note": "x"}
    )


def _pairs(rng):
    signal = rng.uniform(0.0, 300.0, 400).astype(np.float32)
    return signal + rng.normal(0, 9, 400).astype(np.float32), signal


def test_reference_npz_with_only_the_four_keys_loads_with_the_same_likelihoods(
    tmp_path, random_weight, rng
):
    # Exactly what the reference `train` writes: float32 (1,) ranges, a scalar min_sigma.
    path = tmp_path / "GMMNoiseModel.npz"
    np.savez(
        path,
        trained_weight=random_weight,
        min_signal=np.array([12.5], dtype=np.float32),
        max_signal=np.array([280.25], dtype=np.float32),
        min_sigma=50,
    )
    model = load_noise_model(path)
    assert isinstance(model, GaussianMixtureNoiseModel)
    assert (model.min_signal, model.max_signal, model.min_sigma) == (12.5, 280.25, 50.0)
    observation, signal = _pairs(rng)
    expected = np.log(
        reference_likelihood(
            random_weight,
            observation,
            signal,
            min_signal=12.5,
            max_signal=280.25,
            min_sigma=50,
            offset=0,
        )
    )
    got = model.log_likelihood(torch.from_numpy(observation), torch.from_numpy(signal))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_gmm_round_trip_is_exact(tmp_path, tiny_gmm, rng):
    tiny_gmm.metadata["fit"] = {"n_iterations": 7}
    path = tiny_gmm.save(tmp_path / "model")
    assert path.name == "model.npz"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left over
    loaded = load_noise_model(path)
    assert torch.equal(loaded.weight, tiny_gmm.weight)
    assert (loaded.min_signal, loaded.max_signal, loaded.min_sigma) == (10.0, 250.0, 1.0)
    assert loaded.metadata == tiny_gmm.metadata
    observation, signal = (torch.from_numpy(a) for a in _pairs(rng))
    assert torch.equal(
        loaded.log_likelihood(observation, signal), tiny_gmm.log_likelihood(observation, signal)
    )


def test_our_gmm_file_reads_like_a_reference_file(tmp_path, tiny_gmm):
    path = tiny_gmm.save(tmp_path / "ours.npz")
    params = np.load(path)  # the reference reads with numpy defaults (no pickle)
    assert params["trained_weight"].shape == (9, 2)
    assert params["trained_weight"].dtype == np.float32
    assert params["min_signal"][0] == 10.0 and params["max_signal"][0] == 250.0
    assert params["min_sigma"].item() == 1.0


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_histogram_round_trip(tmp_path, tiny_histogram, rng, suffix):
    path = tiny_histogram.save(tmp_path / f"hist{suffix}")
    loaded = load_noise_model(path)
    assert isinstance(loaded, HistogramNoiseModel)
    np.testing.assert_array_equal(loaded.histogram, tiny_histogram.histogram)
    observation = torch.from_numpy(rng.uniform(-5, 70, 300).astype(np.float32))
    signal = torch.from_numpy(rng.uniform(0, 64, 300).astype(np.float32))
    assert torch.equal(
        loaded.log_likelihood(observation, signal),
        tiny_histogram.log_likelihood(observation, signal),
    )
    if suffix == ".npz":  # only .npz keeps the exact range and the metadata
        assert (loaded.min_signal, loaded.max_signal) == (6.1, 60.2)
        assert loaded.metadata == tiny_histogram.metadata
    else:  # a plain reference array, as the reference tools expect
        assert np.load(path).shape == (3, 32, 32)


def test_save_refuses_a_foreign_suffix(tmp_path, tiny_gmm):
    with pytest.raises(ValueError, match=r"must end in \.npz \(got '\.npy'\)"):
        tiny_gmm.save(tmp_path / "model.npy")


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda p: np.savez(p / "x.npz", a=np.ones(3), b=np.zeros(2)) or p / "x.npz",
            r"x\.npz is a zip/\.npz file with keys \['a', 'b'\]",
        ),
        (
            lambda p: _write(p / "notes.npz", b"signal,observation\n1,2\n"),
            r"notes\.npz is not a NumPy",
        ),
        (
            lambda p: torch.save({"weight": torch.ones(3)}, p / "ckpt.npz") or p / "ckpt.npz",
            r"ckpt\.npz is a zip/\.npz file with keys",
        ),
        (
            lambda p: np.save(p / "img.npy", np.ones((4, 4))) or p / "img.npy",
            r"img\.npy holds an array of shape \(4, 4\)",
        ),
        (
            lambda p: np.save(p / "obj.npy", np.array([{"a": 1}], dtype=object)) or p / "obj.npy",
            r"obj\.npy could not be read",
        ),
        (
            lambda p: (
                np.savez(p / "part.npz", trained_weight=np.ones((9, 2)), min_signal=[0.0])
                or p / "part.npz"
            ),
            r"part\.npz: .*\['max_signal', 'min_sigma'\] are missing",
        ),
        (
            lambda p: (
                np.savez(
                    p / "bad.npz",
                    trained_weight=np.ones((4, 2)),
                    min_signal=[0.0],
                    max_signal=[1.0],
                    min_sigma=1.0,
                )
                or p / "bad.npz"
            ),
            r"bad\.npz could not be read.*\(4, 2\)",
        ),
    ],
    ids=[
        "random-npz",
        "text",
        "torch-checkpoint",
        "image-npy",
        "pickled-npy",
        "missing-keys",
        "bad-weight",
    ],
)
def test_foreign_files_raise_a_clear_error(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(ModelFileError, match=match):
        load_noise_model(path)


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_files_raise_a_clear_error(tmp_path, tiny_gmm, keep):
    data = tiny_gmm.save(tmp_path / "whole.npz").read_bytes()
    path = _write(tmp_path / "cut.npz", data[: int(keep * len(data))])
    with pytest.raises(ModelFileError, match=r"cut\.npz could not be read.*expected a Gaussian"):
        load_noise_model(path)


def test_file_error_is_a_value_error_and_missing_files_say_so(tmp_path):
    assert issubclass(ModelFileError, ValueError)
    with pytest.raises(FileNotFoundError, match=r"no noise model file at .*absent\.npz"):
        load_noise_model(tmp_path / "absent.npz")


def test_reference_histogram_npy_loads(tmp_path, rng):
    # Built the way the reference `createHistogram` builds it: 2D counts of (signal,
    # observation) per image plus 1e-30, non-empty rows normalised, edges in [1] and [2].
    signal = np.repeat(np.arange(4.0, 60.0, 8.0), 500)
    observation = np.round(signal + rng.normal(0, 3, signal.size))
    counts, edges, _ = np.histogram2d(signal, observation, bins=64, range=[[0, 64], [0, 64]])
    histogram = np.zeros((3, 64, 64))
    histogram[0] = counts + 1e-30
    populated = histogram[0].sum(axis=1) > 1e-20
    histogram[0, populated] /= histogram[0, populated].sum(axis=1, keepdims=True)
    histogram[1] = edges[:-1][:, None]
    histogram[2] = edges[1:][:, None]
    np.save(tmp_path / "reference_hist.npy", histogram)
    model = load_noise_model(tmp_path / "reference_hist.npy")
    assert isinstance(model, HistogramNoiseModel)
    assert (model.min_signal, model.max_signal) == (4.0, 53.0)  # populated rows 4 ... 52
    x = torch.arange(10.0, 30.0) + 0.5
    density = torch.exp(model.log_likelihood(x, torch.full_like(x, 20.5))).numpy()
    np.testing.assert_allclose(density, histogram[0, 20, 10:30] + 1e-10, rtol=1e-6)
