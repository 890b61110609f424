"""Fixtures for the noise model tests: tiny seeded data and hand-made models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.noise_model import GaussianMixtureNoiseModel


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread: these tensors are small, and the test machines' cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def camera() -> dict[str, float]:
    """Poisson–Gaussian camera: ADU per photon, dark offset and read noise (ADU)."""
    return {"gain": 2.0, "offset": 100.0, "read_noise": 3.0}


@pytest.fixture
def calibration_stack(rng, camera) -> tuple[np.ndarray, np.ndarray]:
    """(signal, observation): 40 rounded Poisson–Gaussian frames of a static 48×48 object.

    The signal is the exact expected value, as a read-only broadcast view.
    """
    photons = rng.uniform(2.0, 200.0, (48, 48))
    frames = camera["gain"] * rng.poisson(np.broadcast_to(photons, (40, 48, 48)))
    frames = frames + camera["offset"] + rng.normal(0.0, camera["read_noise"], frames.shape)
    signal = np.broadcast_to(camera["offset"] + camera["gain"] * photons, frames.shape)
    return signal, np.round(frames).astype(np.uint16)


@pytest.fixture
def random_weight(rng) -> np.ndarray:
    """A reference-shaped weight matrix (K=3, linear) with varied components."""
    weight = rng.normal(size=(9, 2))
    weight[3:6] += np.log([4.0, 60.0])  # variances of a few to tens of ADU²
    return weight.astype(np.float32)


@pytest.fixture
def tiny_gmm(random_weight) -> GaussianMixtureNoiseModel:
    """A Gaussian mixture over signals 10–250 with a variance floor of 1."""
    return GaussianMixtureNoiseModel(
        random_weight, min_signal=10.0, max_signal=250.0, min_sigma=1.0
    )
