"""The reliability catalogue: a hostile user's inputs, each a row named after the situation.

Every row runs a command (in-process, as ``divnoising …``) or an API call and asserts what
the user sees: exit status 2 and one line saying what is wrong (no traceback), or a clear
exception; and that no input file changed and nothing half-written was left behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from napari_divnoising.cli import main
from napari_divnoising.core.io import write_tiff
from napari_divnoising.core.sample_data import make_sample_data


@dataclass(frozen=True)
class Workspace:
    """A folder of realistic small inputs, as a user has them."""

    folder: Path
    noisy: Path
    first_frame: Path
    calibration: Path
    ground_truth: Path
    noise_model: Path
    model: Path

    def path(self, name: str) -> Path:
        return self.folder / name


def _fingerprints(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory) -> Workspace:
    """Inputs made once: sample images, a fitted noise model and a tiny trained model."""
    folder = tmp_path_factory.mktemp("template")
    data = make_sample_data(seed=2, shape=(64, 64), n_frames=3, n_calibration_frames=20)
    files = {
        "noisy": write_tiff(folder / "noisy.tif", data.noisy),
        "first_frame": write_tiff(folder / "frame0.tif", data.noisy[0]),
        "calibration": write_tiff(folder / "calibration.tif", data.calibration),
        "ground_truth": write_tiff(folder / "gt.tif", data.clean.astype(np.float32)),
    }
    noise_model = folder / "nm.npz"
    assert main(["fit-noise-model", "--calibration", str(files["calibration"]), "--out",
                 str(noise_model), "--iterations", "30", "--quiet"]) == 0  # fmt: skip
    model = folder / "model.divnoising"
    assert main(["train", str(files["noisy"]), "--noise-model", str(noise_model), "--out",
                 str(model), "--max-epochs", "1", "--patch-size", "32", "--batch-size", "4",
                 "--quiet"]) == 0  # fmt: skip
    return Workspace(folder, noise_model=noise_model, model=model, **files)


@pytest.fixture
def workspace(workspace_template, tmp_path) -> Iterator[Workspace]:
    """A private copy of the inputs; after the test, every input must be byte-identical."""
    import shutil

    folder = tmp_path / "work"
    shutil.copytree(workspace_template.folder, folder)
    fields = {
        name: folder / getattr(workspace_template, name).name
        for name in ("noisy", "first_frame", "calibration", "ground_truth", "noise_model", "model")
    }
    space = Workspace(folder, **fields)
    before = _fingerprints(folder)
    yield space
    after = _fingerprints(folder)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"inputs changed or removed: {changed}"
    leftovers = [name for name in after if ".tmp" in name or name.startswith(".")]
    assert not leftovers, f"half-written files left behind: {leftovers}"


def refused(capsys, argv: list[str]) -> str:
    """Run ``divnoising argv``; assert exit 2 and a one-line reason; return the reason."""
    status = main([str(part) for part in argv])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == 2, f"exit status {status}; stderr: {captured.err[-1500:]}"
    assert "Traceback" not in captured.err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, f"expected one error line, got: {lines}"
    return errors[0]
