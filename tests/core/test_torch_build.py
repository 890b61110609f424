"""The installed PyTorch build, read without importing torch, and the advice to switch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from napari_divnoising.core import torch_build
from napari_divnoising.core.torch_build import (
    CPU_INDEX,
    GET_STARTED,
    TorchBuild,
    inspect_torch_build,
    torch_build_advice,
)

CUDA_VERSION_PY = """
from typing import Optional

__version__ = '2.14.1'
debug = False
cuda: Optional[str] = '13.0'
hip: Optional[str] = None
"""


def fake_torch(site, *, version: str, version_py: str):
    """A site folder holding a package `torch` with its metadata, as pip installs one."""
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (site / "torch" / "version.py").write_text(textwrap.dedent(version_py))
    info = site / f"torch-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
    return site


SOURCE = Path(__file__).resolve().parents[2] / "src"


def inspect_in_child(site, *, no_site_packages: bool = False) -> dict | None:
    """inspect_torch_build() in a python whose first site folder is `site`."""
    program = (
        "import dataclasses, json, sys\n"
        "from napari_divnoising.core.torch_build import inspect_torch_build\n"
        "build = inspect_torch_build()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(json.dumps(build and dataclasses.asdict(build)))\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            *(["-S"] if no_site_packages else []),
            "-c",
            f"import sys; sys.path[:0] = [{str(site)!r}, {str(SOURCE)!r}]\n{program}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_installed_build_is_the_one_torch_reports():
    build = inspect_torch_build()
    assert build is not None
    assert build.version == torch.__version__
    assert build.cuda == torch.version.cuda
    assert build.rocm == torch.version.hip


def test_a_cuda_build_is_recognised_without_importing_torch(tmp_path):
    site = fake_torch(tmp_path, version="2.14.1", version_py=CUDA_VERSION_PY)
    found = inspect_in_child(site)
    assert found["version"] == "2.14.1"
    assert found["cuda"] == "13.0"
    assert found["rocm"] is None


def test_a_cpu_build_declares_no_cuda(tmp_path):
    cpu = CUDA_VERSION_PY.replace("'13.0'", "None").replace("2.14.1", "2.14.1+cpu")
    found = inspect_in_child(fake_torch(tmp_path, version="2.14.1+cpu", version_py=cpu))
    assert found["cuda"] is None
    assert TorchBuild(**found).kind == "CPU build"


def test_a_rocm_build_is_named():
    build = TorchBuild(version="2.14.1+rocm6.4", cuda=None, rocm="6.4", nvidia_gpu_seen=False)
    assert build.describe() == "PyTorch 2.14.1+rocm6.4, ROCm 6.4 build"


def test_without_torch_the_answer_is_none(tmp_path):
    assert inspect_in_child(tmp_path, no_site_packages=True) is None


def test_a_cuda_build_without_a_gpu_is_told_how_to_switch_to_the_cpu_build():
    build = TorchBuild(version="2.14.1", cuda="13.0", rocm=None, nvidia_gpu_seen=False)
    advice = torch_build_advice(build)
    assert "CUDA 13.0 build of PyTorch 2.14.1" in advice
    assert f"pip install --force-reinstall --no-deps torch==2.14.1 --index-url {CPU_INDEX}" in (
        advice
    )
    assert "nvidia-*" in advice


def test_the_advice_in_napari_uses_the_console_s_pip():
    build = TorchBuild(version="2.14.1+cu126", cuda="12.6", rocm=None, nvidia_gpu_seen=False)
    advice = torch_build_advice(build, pip="%pip")
    # the local version tag goes: the CPU index names its own
    assert "`%pip install --force-reinstall --no-deps torch==2.14.1 --index-url" in advice


def test_a_cpu_build_beside_an_nvidia_gpu_points_to_the_cuda_builds():
    build = TorchBuild(version="2.14.1+cpu", cuda=None, rocm=None, nvidia_gpu_seen=True)
    advice = torch_build_advice(build)
    assert GET_STARTED in advice
    assert "NVIDIA GPU" in advice


@pytest.mark.parametrize(
    ("cuda", "gpu"), [(None, False), ("13.0", True)], ids=["cpu-no-gpu", "cuda-gpu"]
)
def test_a_build_that_suits_the_machine_gets_no_advice(cuda, gpu):
    build = TorchBuild(version="2.14.1", cuda=cuda, rocm=None, nvidia_gpu_seen=gpu)
    assert torch_build_advice(build) is None


def test_missing_torch_is_told_how_to_install_the_cpu_build():
    advice = torch_build_advice(None)
    assert f"--index-url {CPU_INDEX}" in advice


def test_an_nvidia_gpu_is_seen_from_its_driver_files_or_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_build, "_NVIDIA_DEVICE_FILES", (str(tmp_path / "nvidia0"),))
    monkeypatch.setattr(torch_build.shutil, "which", lambda name: None)
    assert not torch_build.nvidia_gpu_seen()
    (tmp_path / "nvidia0").touch()
    assert torch_build.nvidia_gpu_seen()
    (tmp_path / "nvidia0").unlink()
    monkeypatch.setattr(torch_build.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert torch_build.nvidia_gpu_seen()
