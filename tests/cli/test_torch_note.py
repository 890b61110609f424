"""The command line names PyTorch's build and says how to switch when it does not suit."""

from __future__ import annotations

import pytest
import torch

from napari_divnoising.cli import main
from napari_divnoising.core import torch_build
from napari_divnoising.core.torch_build import TorchBuild

CUDA_WITHOUT_GPU = TorchBuild(version="2.14.1", cuda="13.0", rocm=None, nvidia_gpu_seen=False)


def test_version_names_the_torch_build(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("divnoising ")
    assert f"PyTorch {torch.__version__}" in shown


def test_a_command_on_an_unsuited_build_says_how_to_switch_then_runs(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(torch_build, "inspect_torch_build", lambda: CUDA_WITHOUT_GPU)
    # a command that fails at its door: the note comes first, the command still runs
    status = main(["evaluate", str(tmp_path / "missing.tif"), str(tmp_path / "t.tif")])
    err = capsys.readouterr().err
    note, *rest = err.splitlines()
    assert note.startswith("divnoising: note: The CUDA 13.0 build of PyTorch 2.14.1")
    assert "--index-url https://download.pytorch.org/whl/cpu" in note
    assert status == 2
    assert "evaluate: error" in "\n".join(rest)


def test_a_suited_build_adds_nothing(tmp_path, capsys, monkeypatch):
    suited = TorchBuild(version="2.14.1+cpu", cuda=None, rocm=None, nvidia_gpu_seen=False)
    monkeypatch.setattr(torch_build, "inspect_torch_build", lambda: suited)
    main(["evaluate", str(tmp_path / "missing.tif"), str(tmp_path / "t.tif")])
    assert "note" not in capsys.readouterr().err
