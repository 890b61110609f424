from pathlib import Path

import numpy as np
import pytest

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
