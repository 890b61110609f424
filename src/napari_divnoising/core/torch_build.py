"""Which PyTorch build is installed, and how to switch when it does not suit the machine.

A plain ``pip install napari-divnoising`` (what napari's plugin manager runs) takes PyTorch
from PyPI. On Linux that is the CUDA build: about 2.8 GiB of downloads with its NVIDIA
libraries, useless without an NVIDIA GPU, where the CPU build is 0.2 GiB. On Windows and
macOS, PyPI's build is the small one. Nothing in a package's metadata can choose the build,
so the best we can do is look at what is installed, say it, and give the command that
switches. Everything here reads package metadata and a few files: torch is not imported,
so the check costs milliseconds and works even when importing torch fails.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TorchBuild", "inspect_torch_build", "torch_build_advice"]

#: PyTorch's own index of CPU builds (the only source of a Linux CPU build).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Where PyTorch lists the command for each CUDA version and OS.
GET_STARTED = "https://pytorch.org/get-started/locally/"
#: Files whose presence shows an NVIDIA driver with a GPU (Linux), read without CUDA.
_NVIDIA_DEVICE_FILES = ("/proc/driver/nvidia/gpus", "/dev/nvidia0")


@dataclass(frozen=True)
class TorchBuild:
    """The installed PyTorch: its version and what it was built for.

    Attributes
    ----------
    version : str
        The version pip installed, e.g. ``"2.13.0+cpu"`` or ``"2.14.1"``.
    cuda : str or None
        The CUDA version the build carries, ``None`` for a build without CUDA.
    rocm : str or None
        The ROCm (AMD GPU) version the build carries, if any.
    nvidia_gpu_seen : bool
        Whether this machine shows an NVIDIA GPU (driver files or ``nvidia-smi``).
    """

    version: str
    cuda: str | None
    rocm: str | None
    nvidia_gpu_seen: bool

    @property
    def kind(self) -> str:
        """The build in words: ``"CPU build"``, ``"CUDA 13.0 build"``, ``"ROCm 6.4 build"``."""
        if self.cuda:
            return f"CUDA {self.cuda} build"
        if self.rocm:
            return f"ROCm {self.rocm} build"
        return "CPU build"

    def describe(self) -> str:
        """One line for a user, e.g. ``"PyTorch 2.13.0+cpu, CPU build"``."""
        return f"PyTorch {self.version}, {self.kind}"


def inspect_torch_build() -> TorchBuild | None:
    """Return the installed PyTorch build, or ``None`` when torch is not installed.

    Reads torch's metadata and its ``version.py`` as text, without importing torch.

    Returns
    -------
    TorchBuild or None
        What is installed, and whether an NVIDIA GPU is present.
    """
    try:
        version = importlib.metadata.version("torch")
        spec = importlib.util.find_spec("torch")
    except (importlib.metadata.PackageNotFoundError, ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    declared = _declared_versions(Path(next(iter(spec.submodule_search_locations))))
    return TorchBuild(
        version=version,
        cuda=declared.get("cuda"),
        rocm=declared.get("hip") or declared.get("rocm"),
        nvidia_gpu_seen=nvidia_gpu_seen(),
    )


def nvidia_gpu_seen() -> bool:
    """Whether this machine shows an NVIDIA GPU, asked without CUDA or torch."""
    if any(Path(path).exists() for path in _NVIDIA_DEVICE_FILES):
        return True
    return shutil.which("nvidia-smi") is not None


def torch_build_advice(build: TorchBuild | None, *, pip: str = "pip") -> str | None:
    """Say how to switch PyTorch builds when the installed one does not suit this machine.

    Parameters
    ----------
    build : TorchBuild or None
        What :func:`inspect_torch_build` found (``None``: torch is missing).
    pip : str, optional
        How the user runs pip where the advice is shown: ``"pip"`` in a terminal,
        ``"%pip"`` in napari's console (it installs into napari's own environment).

    Returns
    -------
    str or None
        The advice, or ``None`` when the build suits the machine.
    """
    if build is None:
        return (
            f"PyTorch is not installed. For the CPU build: `{pip} install torch "
            f"--index-url {CPU_INDEX}`; for an NVIDIA GPU, the command at {GET_STARTED}"
        )
    if build.cuda and not build.nvidia_gpu_seen:
        cpu_version = build.version.split("+", 1)[0]
        switch = (
            f"{pip} install --force-reinstall --no-deps torch=={cpu_version} "
            f"--index-url {CPU_INDEX}"
        )
        return (
            f"The {build.kind} of PyTorch {build.version} is installed, with gigabytes of "
            "NVIDIA libraries, but this machine shows no NVIDIA GPU: DivNoising runs on the "
            f"CPU either way. To free the space, switch to the CPU build: `{switch}`, then "
            "remove the `nvidia-*` packages (the FAQ shows how)"
        )
    if not build.cuda and not build.rocm and build.nvidia_gpu_seen:
        return (
            f"The {build.kind} of PyTorch {build.version} is installed, but this machine has "
            "an NVIDIA GPU: training and sampling would be many times faster with a CUDA "
            f"build. Pick the command for your CUDA version at {GET_STARTED} (with "
            f"`{pip} install --force-reinstall`)"
        )
    return None


def _declared_versions(package: Path) -> dict[str, str]:
    """Return the ``cuda = '…'``-style assignments of torch's ``version.py`` (missing: none)."""
    try:
        text = (package / "version.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    # e.g. `cuda: Optional[str] = '12.6'`; `None` values do not match
    found = re.findall(r"^(\w+)\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]", text, flags=re.M)
    return dict(found)
