"""The package and its core must stay light: no Qt, no napari, no torch on import."""

import subprocess
import sys

import pytest

CORE_MODULES = [
    "napari_divnoising.core.events",
    "napari_divnoising.core.validation",
    "napari_divnoising.core.quality.metrics",
    "napari_divnoising.core.io",
    "napari_divnoising.core.noise_model",
    "napari_divnoising.core.noise_model.calibration",
    "napari_divnoising.core.noise_model.bootstrap",
    "napari_divnoising.core.sample_data",
    "napari_divnoising.core.model.network",
    "napari_divnoising.core.training.trainer",
    "napari_divnoising.core.prediction.sampling",
    "napari_divnoising.core.model_files.bundle",
    "napari_divnoising.napari_samples",
    "napari_divnoising.cli",
]


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_importing_the_package_loads_neither_torch_nor_qt_nor_napari():
    loaded = _top_level(_modules_loaded_by("import napari_divnoising"))
    assert not loaded & {"torch", "napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "bm3d"}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_and_cli_import_no_qt_and_no_napari(module):
    loaded = _top_level(_modules_loaded_by(f"import {module}"))
    assert not loaded & {"napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "magicgui"}
