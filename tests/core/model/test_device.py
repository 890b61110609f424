"""Device selection."""

from __future__ import annotations

import pytest
import torch

from napari_divnoising.core.model import device as device_module
from napari_divnoising.core.model.device import bf16_is_fast, select_device


def test_cpu_is_described_in_words():
    choice = select_device("cpu")
    assert choice.device == torch.device("cpu")
    assert choice.description.startswith("CPU: ") and "threads" in choice.description


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(device_module, "_describe", lambda device: f"described {device.type}")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    assert select_device("auto").device.type == "cpu"
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert select_device("auto") == device_module.DeviceChoice(
        torch.device("mps"), "described mps"
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert select_device("AUTO").device.type == "cuda"


def test_missing_accelerators_are_explained(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="asks for a CUDA GPU, but torch sees none"):
        select_device("cuda")
    with pytest.raises(ValueError, match="Apple GPU \\(MPS\\), which is not available"):
        select_device("mps")


@pytest.mark.parametrize("preference", ["tpu", "", "mps:1", 3])
def test_unknown_device(preference):
    with pytest.raises(ValueError, match="`device` must be one of"):
        select_device(preference)


def test_bf16_probe_answers_for_cpu():
    assert isinstance(bf16_is_fast(torch.device("cpu")), bool)
    assert bf16_is_fast(torch.device("meta")) is False
