"""napari sample-data contributions (``File > Open Sample > DivNoising``).

Plain functions that return napari layer-data tuples ``(data, metadata, "image")``; they
import neither napari nor Qt, so they also work from scripts and tests. The data are the
built-in simulated camera frames of :func:`napari_divnoising.core.sample_data.make_sample_data`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from .core.sample_data import SampleData, make_sample_data

__all__ = ["calibration_sample", "noisy_sample"]

LayerData = tuple[np.ndarray, dict[str, Any], str]


def _camera_metadata(data: SampleData) -> dict[str, Any]:
    return {"camera": asdict(data.camera), "seed": data.seed, "source": "napari-divnoising sample"}


def noisy_sample() -> list[LayerData]:
    """Noisy simulated fluorescence frames and their ground truth.

    Returns
    -------
    list of tuple
        Two image layers: ``"noisy frames"`` (uint16, 3 frames of 256×256 raw camera
        counts) and ``"ground truth"`` (float32, the expected value of every pixel,
        hidden at first).
    """
    data = make_sample_data()
    low, high = float(data.clean.min()), float(data.clean.max())
    metadata = _camera_metadata(data)
    return [
        (
            data.noisy,
            {"name": "noisy frames", "contrast_limits": (low, high), "metadata": metadata},
            "image",
        ),
        (
            data.clean,
            {
                "name": "ground truth",
                "contrast_limits": (low, high),
                "visible": False,
                "metadata": metadata,
            },
            "image",
        ),
    ]


def calibration_sample() -> list[LayerData]:
    """Calibration frames: 50 raw frames of a static object seen by the same simulated camera.

    Returns
    -------
    list of tuple
        One image layer, ``"calibration frames"`` (uint16, shape (50, 256, 256)), to fit a
        noise model from (signal = the mean of the frames).
    """
    data = make_sample_data()
    limits = (float(data.calibration_clean.min()), float(data.calibration_clean.max()))
    metadata = _camera_metadata(data)
    return [
        (
            data.calibration,
            {"name": "calibration frames", "contrast_limits": limits, "metadata": metadata},
            "image",
        )
    ]
