"""Catalogue rows: where a file or a name from outside could make us run or write elsewhere.

A module lying in the working folder, a name that is a path, a result that is not a number,
a scheduler address that is not one: each gets one line (or is simply not used), and
nothing is written outside the output folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from napari_divnoising.core.io import read_image, write_tiff

from ..waiting import EVENT_WAIT_S
from .conftest import refused
from .test_faults import _child_env, _cli

# --- a module in the working folder -------------------------------------------------------

_FAKE_BM3D = textwrap.dedent(
    """
    # A stand-in a careless (or hostile) folder could hold: it must never be imported.
        Path(__file__).with_name("imported.txt").write_text("the working folder's bm3d ran")

    def bm3d(image, *args, **kwargs):
        return image * 0
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX child process")
def test_a_bm3d_py_in_the_working_folder_is_not_imported_by_the_bootstrap(workspace, tmp_path):
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / "bm3d.py").write_text(_FAKE_BM3D, encoding="utf-8")
    out = tmp_path / "bootstrapped.npz"
    argv = ["fit-noise-model", "--bootstrap", workspace.first_frame, "--out", out,
            "--iterations", "5", "--quiet"]  # fmt: skip
    done = subprocess.run(
        [*_cli(), *map(str, argv)],
        cwd=folder,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=EVENT_WAIT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (folder / "imported.txt").exists(), "the working folder's bm3d.py was imported"
    assert out.is_file()


# --- a name is a name ----------------------------------------------------------------------

_NOT_NAMES = {
    "climbs out": "../../escaped",
    "absolute": "{tmp}/escaped-absolute",
    "newline": "two\nlines",
    "backslash": "..\\escaped",
}


@pytest.mark.parametrize("output_format", ["tiff", "ome-zarr"])
@pytest.mark.parametrize("what", sorted(_NOT_NAMES))
def test_a_name_that_is_a_path_is_refused_and_nothing_is_written(
    workspace, tmp_path, capsys, what, output_format
):
    name = _NOT_NAMES[what].format(tmp=tmp_path)
    out = workspace.path("deep") / "er" / "out"
    argv = ["predict", workspace.model, workspace.noisy, "--out", out, "--name", name,
            "--samples", "2", "--format", output_format, "--quiet"]  # fmt: skip
    reason = refused(capsys, argv)
    assert "output name" in reason
    assert not out.exists()
    assert not list(tmp_path.rglob("*escaped*"))


def test_a_layer_named_like_a_path_exports_into_the_chosen_folder(tmp_path):
    from napari_divnoising.widgets._sampling_choices import export_tiffs

    folder = tmp_path / "exports" / "here"
    folder.mkdir(parents=True)
    results = {"mmse": np.zeros((8, 8), np.float32)}
    assert export_tiffs(results, {}, folder, "../../day 1: embryo", None) == 1
    assert [p.name for p in folder.iterdir()] == ["day 1_ embryo_mmse.tif"]
    assert sorted(p.name for p in tmp_path.rglob("*.tif")) == ["day 1_ embryo_mmse.tif"]


def test_the_api_refuses_a_stem_that_is_a_path(workspace, tmp_path):
    from napari_divnoising.core.errors import SettingsError
    from napari_divnoising.core.prediction.to_zarr import iter_predict_to_zarr

    with pytest.raises(SettingsError, match="is a path, not a name"):
        iter_predict_to_zarr(workspace.noisy, workspace.model, tmp_path / "o", stem="../x")
    assert not (tmp_path / "o").exists() and not (tmp_path / "x_mmse.ome.zarr").exists()


# --- scheduler addresses -------------------------------------------------------------------

_NOT_SCHEDULERS = {
    "unknown scheme": "foo://node7:8786",
    "port not a number": "tcp://node7:port",
    "port out of range": "tcp://127.0.0.1:99999",
    "tls without certificates": "tls://127.0.0.1:8786",
    "a text file": "{folder}/notes.txt",
    "JSON without an address": "{folder}/scheduler.json",
}


@pytest.mark.parametrize("what", sorted(_NOT_SCHEDULERS))
def test_a_scheduler_that_is_not_one_gets_one_line_before_any_work(workspace, capsys, what):
    (workspace.folder / "notes.txt").write_text("not a scheduler\n", encoding="utf-8")
    (workspace.folder / "scheduler.json").write_text('{"address": 7}', encoding="utf-8")
    out = workspace.path("res")
    scheduler = _NOT_SCHEDULERS[what].format(folder=workspace.folder)
    argv = ["predict", workspace.model, workspace.noisy, "--out", out, "--scheduler", scheduler]
    reason = refused(capsys, argv)
    assert "--scheduler" in reason or "scheduler file" in reason
    assert not out.exists()
    (workspace.folder / "notes.txt").unlink()
    (workspace.folder / "scheduler.json").unlink()


# --- a result that is not a number is never written as a success ---------------------------


def _with_normalisation(model: Path, target: Path, **change: float) -> Path:
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(target, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "model.json":
                data = json.dumps({**json.loads(data), **change})
            copy.writestr(item, data)
    return target


@pytest.mark.parametrize("output_format", ["tiff", "ome-zarr"])
@pytest.mark.parametrize("case", ["std 1e300", "mean 1e300", "inputs near 1e30"])
def test_a_nan_result_is_refused_and_nothing_is_written(
    workspace, tmp_path, capsys, case, output_format
):
    model, image = workspace.model, workspace.noisy
    if case.startswith(("std", "mean")):
        key = "data_std" if case.startswith("std") else "data_mean"
        model = _with_normalisation(workspace.model, tmp_path / "odd.divnoising", **{key: 1e300})
    else:
        image = tmp_path / "huge.tif"
        write_tiff(image, read_image(workspace.noisy).astype(np.float32) * 1e30)
    out = tmp_path / "res"
    argv = ["predict", model, image, "--out", out, "--samples", "2", "--format", output_format]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in numpy on the way: the refusal is the point
        reason = refused(capsys, argv)
    assert "NaN or infinite" in reason
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    # The TIFF path writes nothing; OME-Zarr keeps its (resumable) record, no plane done.
    assert all(p.suffix == ".json" or ".zarr" in str(p) for p in written)
    assert not [p for p in written if ".done" in str(p)]
    if output_format == "tiff":
        assert not out.exists()


def test_a_package_that_would_average_no_samples_is_refused(workspace, tmp_path, capsys):
    pytest.importorskip("bioimageio.spec")
    package = tmp_path / "package.zip"
    argv = ["export-bioimageio", workspace.model, "--out", package, "--test-image",
            workspace.noisy, "--samples", "0", "--license", "MIT", "--author", "A"]  # fmt: skip
    assert "at least 1" in refused(capsys, argv)
    assert not package.exists()
