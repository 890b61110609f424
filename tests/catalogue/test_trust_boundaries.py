"""Catalogue rows: where a file or a name from outside could make us run or write elsewhere.

A module lying in the working folder, a name that is a path, a result that is not a number,
a scheduler address that is not one: each gets one line (or is simply not used), and
nothing is written outside the output folder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ..waiting import EVENT_WAIT_S
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
