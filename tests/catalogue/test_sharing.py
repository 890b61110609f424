"""Catalogue rows: a model file taken to another machine or folder still works on its own."""

from __future__ import annotations

import shutil
import subprocess
import sys

from napari_divnoising.cli import main

from ..waiting import EVENT_WAIT_S

TINY = ["--max-epochs", "1", "--patch-size", "32", "--batch-size", "4", "--quiet"]


def test_a_model_trained_with_a_histogram_noise_model_runs_elsewhere(workspace, tmp_path):
    """The bundle carries its noise model: the original files are not needed to predict."""
    histogram = workspace.path("hist.npy")
    argv = ["fit-noise-model", "--calibration", workspace.calibration, "--kind", "histogram"]
    assert main([str(p) for p in [*argv, "--out", histogram, "--quiet"]]) == 0
    model = workspace.path("hist_model.divnoising")
    argv = ["train", workspace.noisy, "--noise-model", histogram, "--out", model, *TINY]
    assert main([str(p) for p in argv]) == 0

    elsewhere = tmp_path / "other machine"
    elsewhere.mkdir()
    shutil.copy(model, elsewhere / "model.divnoising")
    shutil.copy(workspace.first_frame, elsewhere / "image.tif")
    script = (
        "import sys; from napari_divnoising.cli import main; "
        "sys.exit(main(['predict', 'model.divnoising', 'image.tif', '--out', 'out', "
        "'--samples', '2', '--quiet']))"
    )
    # A fresh process in a folder without the noise-model file or the training data.
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=EVENT_WAIT_S,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    assert (elsewhere / "out" / "image_mmse.tif").is_file()
