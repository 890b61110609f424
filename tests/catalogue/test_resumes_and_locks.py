"""Catalogue rows: a resumable run never mixes inputs, never touches one, never shares outputs.

Resuming trusts what an input holds, not its name; OME-Zarr outputs spare every input as
the TIFF outputs do (also with ``--overwrite``); and outputs being written by one run are
locked against a second, which says who holds them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from napari_divnoising.cli import main
from napari_divnoising.core.io import read_image, write_tiff

from ..waiting import EVENT_WAIT_S
from .conftest import refused
from .test_faults import _child_env, _cli, _kill_group

ZARR = ["--format", "ome-zarr", "--samples", "2", "--quiet"]


def _predict(capsys, *argv) -> str:
    assert main(["predict", *map(str, argv)]) == 0, capsys.readouterr().err[-2000:]
    return capsys.readouterr().out


# --- a resume is for the same input, not the same name ------------------------------------


def test_another_file_of_the_same_name_is_not_taken_for_the_finished_one(
    workspace, tmp_path, capsys
):
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    day1.mkdir(), day2.mkdir()
    noisy = read_image(workspace.noisy)
    write_tiff(day1 / "embryo.tif", noisy)
    write_tiff(day2 / "embryo.tif", noisy[::-1].copy())  # the same planes, another order
    out = tmp_path / "res"
    _predict(capsys, workspace.model, day1 / "embryo.tif", "--out", out, *ZARR)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    reason = refused(
        capsys, ["predict", workspace.model, day2 / "embryo.tif", "--out", out, *ZARR]
    )
    assert "holds the results of another input" in reason
    assert str(day1 / "embryo.tif") in reason  # which input the folder holds
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_the_same_input_resumes_and_a_modified_one_does_not(workspace, tmp_path, capsys):
    image = tmp_path / "embryo.tif"
    shutil.copy(workspace.noisy, image)
    out = tmp_path / "res"
    _predict(capsys, workspace.model, image, "--out", out, *ZARR)
    assert "0 of 3 planes computed, 3 done by an earlier run" in _predict(
        capsys, workspace.model, image, "--out", out, *ZARR
    )
    changed = read_image(image)
    changed[1, 5, 5] += 1  # one pixel of the middle plane, rewritten in place
    write_tiff(image, changed)
    reason = refused(capsys, ["predict", workspace.model, image, "--out", out, *ZARR])
    assert "another input" in reason


# --- OME-Zarr outputs spare the inputs --------------------------------------------------


def test_overwrite_never_replaces_an_input_store_that_is_also_an_output(
    workspace, tmp_path, capsys
):
    out = tmp_path / "res"
    _predict(capsys, workspace.model, workspace.noisy, "--out", out, "--axes", "TYX", *ZARR)
    again = out / "noisy_mmse.ome.zarr"  # denoise the result again, named like the first
    before = sorted(p.relative_to(again) for p in again.rglob("*"))
    reason = refused(
        capsys,
        ["predict", workspace.model, again, "--out", out, "--name", "noisy", "--overwrite", *ZARR],
    )
    assert "would overwrite or change the input" in reason
    assert sorted(p.relative_to(again) for p in again.rglob("*")) == before


def test_an_output_folder_inside_an_input_store_is_refused(workspace, tmp_path, capsys):
    out = tmp_path / "res"
    _predict(capsys, workspace.model, workspace.noisy, "--out", out, "--axes", "TYX", *ZARR)
    store = out / "noisy_mmse.ome.zarr"
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    reason = refused(capsys, ["predict", workspace.model, store, "--out", store / "res", *ZARR])
    assert "inside the input" in reason
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before


# --- one run at a time per set of outputs -------------------------------------------------


def _lock(folder, stem, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or socket.gethostname(), "since": "2026-01-01 10:00:00",
              "command": "divnoising predict", "process_started": None}  # fmt: skip
    path = folder / f"{stem}_prediction.lock"
    path.write_text(json.dumps(holder), encoding="utf-8")
    return path


@pytest.mark.parametrize("output_format", ["tiff", "ome-zarr"])
def test_outputs_a_live_run_writes_are_refused_naming_who_holds_them(
    workspace, tmp_path, capsys, output_format
):
    out = tmp_path / "res"
    lock = _lock(out, "noisy", os.getpid())  # this very process: certainly alive
    argv = ["predict", workspace.model, workspace.noisy, "--out", out, "--overwrite",
            "--format", output_format, "--samples", "2", "--quiet"]  # fmt: skip
    reason = refused(capsys, argv)
    assert f"pid {os.getpid()} on host {socket.gethostname()!r}" in reason
    assert lock.is_file() and sorted(p.name for p in out.iterdir()) == [lock.name]


def test_a_lock_from_another_host_is_respected_and_says_how_to_remove_it(
    workspace, tmp_path, capsys
):
    out = tmp_path / "res"
    lock = _lock(out, "noisy", 12345, host="node-elsewhere")
    reason = refused(capsys, ["predict", workspace.model, workspace.noisy, "--out", out, *ZARR])
    assert "node-elsewhere" in reason and f"delete {lock}" in reason


def test_a_lock_left_by_a_killed_run_is_taken_over(workspace, tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "res"
    _lock(out, "noisy", dead.pid)
    _predict(capsys, workspace.model, workspace.noisy, "--out", out, *ZARR)
    assert not (out / "noisy_prediction.lock").exists()
    assert (out / "noisy_mmse.ome.zarr").is_dir()


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX process group")
def test_a_second_run_with_overwrite_while_the_first_writes_is_refused(
    workspace, tmp_path, capsys
):
    out = tmp_path / "res"
    argv = [*_cli(), "predict", str(workspace.model), str(workspace.noisy), "--out", str(out),
            "--format", "ome-zarr", "--samples", "3000", "--quiet"]  # fmt: skip
    first = subprocess.Popen(
        argv, env=_child_env(), stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + EVENT_WAIT_S
        while not (out / "noisy_prediction.lock").exists():
            assert first.poll() is None, first.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.05)
        reason = refused(
            capsys,
            ["predict", workspace.model, workspace.noisy, "--out", out, "--overwrite", *ZARR],
        )
        assert f"pid {first.pid}" in reason
    finally:
        _kill_group(first)
    assert np.isfinite(first.returncode)
