from pathlib import Path

import numpy as np
import pytest

from napari_divnoising.cli import main
from napari_divnoising.core.io import write_tiff
from napari_divnoising.core.sample_data import make_sample_data


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    """Tiny sample data on disk: noisy frames, calibration frames and ground truth."""
    folder = tmp_path_factory.mktemp("sample")
    data = make_sample_data(seed=1, shape=(64, 64), n_frames=3, n_calibration_frames=20)
    return {
        "noisy": write_tiff(folder / "noisy.tif", data.noisy),
        "calibration": write_tiff(folder / "calibration.tif", data.calibration),
        "ground_truth": write_tiff(folder / "gt.tif", data.clean.astype(np.float32)),
        "first_frame": write_tiff(folder / "frame0.tif", data.noisy[0]),
    }


TINY_TRAINING = ["--max-epochs", "2", "--patch-size", "32", "--batch-size", "4", "--seed", "0"]


@pytest.fixture(scope="module")
def noise_model_file(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("nm") / "nm.npz"
    argv = ["fit-noise-model", "--calibration", str(sample["calibration"])]
    assert main([*argv, "--out", str(out), "--iterations", "30", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def model_file(sample, noise_model_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model.divnoising"
    argv = ["train", str(sample["noisy"]), "--noise-model", str(noise_model_file)]
    assert main([*argv, "--out", str(out), *TINY_TRAINING, "--quiet"]) == 0
    return out
