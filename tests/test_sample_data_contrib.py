import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest

from napari_divnoising.napari_samples import calibration_sample, noisy_sample

MANIFEST = Path(__file__).resolve().parents[1] / "src" / "napari_divnoising" / "napari.yaml"


def test_noisy_sample_gives_frames_and_hidden_ground_truth():
    layers = noisy_sample()
    assert [meta["name"] for _, meta, _ in layers] == ["noisy frames", "ground truth"]
    assert all(kind == "image" for _, _, kind in layers)
    (noisy, noisy_meta, _), (truth, truth_meta, _) = layers
    assert noisy.dtype == np.uint16 and noisy.ndim == 3
    assert truth.shape == noisy.shape[1:]
    assert truth_meta["visible"] is False
    assert noisy_meta["metadata"]["camera"]["gain"] > 0


def test_calibration_sample_gives_a_stack_of_frames():
    ((frames, meta, kind),) = calibration_sample()
    assert kind == "image"
    assert meta["name"] == "calibration frames"
    assert frames.dtype == np.uint16 and frames.shape[0] >= 10
    low, high = meta["contrast_limits"]
    assert low < high


def test_samples_are_deterministic():
    np.testing.assert_array_equal(noisy_sample()[0][0], noisy_sample()[0][0])


def test_module_imports_neither_napari_nor_qt():
    code = (
        "import sys, napari_divnoising.napari_samples as m; m.noisy_sample(); "
        "bad = [n for n in ('napari', 'qtpy', 'PyQt6', 'torch') if n in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_manifest_sample_commands_resolve_to_these_functions():
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = {c["id"]: c["python_name"] for c in manifest["contributions"]["commands"]}
    for contribution in manifest["contributions"]["sample_data"]:
        module, _, name = commands[contribution["command"]].partition(":")
        function = getattr(import_module(module), name)
        assert function in (noisy_sample, calibration_sample)
