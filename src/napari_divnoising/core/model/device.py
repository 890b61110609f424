"""Choose where torch computes (CUDA GPU, Apple GPU, or CPU) and say so in words."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import torch

from ..errors import SettingsError

__all__ = ["DeviceChoice", "bf16_is_fast", "select_device"]

_ALLOWED = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    """A torch device and a description a user understands."""

    device: torch.device
    description: str


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown processor"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        memory = properties.total_memory / 2**30
        return f"NVIDIA GPU {index}: {properties.name} ({memory:.0f} GiB, CUDA)"
    if device.type == "mps":
        return "Apple GPU (Metal Performance Shaders)"
    return f"CPU: {_cpu_name()} ({torch.get_num_threads()} threads)"


def select_device(preference: str = "auto") -> DeviceChoice:
    """Pick the torch device to compute on.

    Parameters
    ----------
    preference : {"auto", "cpu", "cuda", "mps"} or "cuda:N"
        ``auto`` takes a CUDA GPU if there is one, then an Apple GPU, else the CPU.

    Returns
    -------
    DeviceChoice
        The device and a human-readable description of it.

    Raises
    ------
    ValueError
        If `preference` is unknown or names a device this machine does not have.

    Examples
    --------
    >>> select_device("cpu").device
    device(type='cpu')
    """
    if not isinstance(preference, str):
        raise SettingsError(f"`device` must be one of {_ALLOWED} (got {preference!r})")
    choice = preference.strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            choice = "cuda"
        elif _mps_available():
            choice = "mps"
        else:
            choice = "cpu"
    kind = choice.split(":", 1)[0]
    if kind not in _ALLOWED[1:] or (":" in choice and kind != "cuda"):
        raise SettingsError(f"`device` must be one of {_ALLOWED} or 'cuda:N' (got {preference!r})")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise SettingsError(
                f"`device` {preference!r} asks for a CUDA GPU, but torch sees none "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda is not None}); "
                "install a CUDA build of torch or use 'cpu'"
            )
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SettingsError(
                f"`device` {preference!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA GPU(s)"
            )
    elif kind == "mps":
        if not _mps_available():
            raise SettingsError(
                f"`device` {preference!r} asks for an Apple GPU (MPS), which is not available "
                "on this machine; use 'cpu'"
            )
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    return DeviceChoice(device=device, description=_describe(device))


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 autocast is native (fast) on `device`, not emulated."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False
