"""A note in the Training dock when the installed PyTorch build does not suit the machine."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel

from napari_divnoising.core.torch_build import inspect_torch_build, torch_build_advice

__all__ = ["torch_note"]


def torch_note() -> QLabel:
    """Return a label with the core's advice, hidden when the build suits this machine.

    napari's plugin manager installs PyTorch from PyPI, so a user who never typed a pip
    command may hold gigabytes of CUDA libraries without a GPU, or a CPU build beside one.
    The advice uses ``%pip``: typed in napari's console, it installs into napari's own
    environment.
    """
    build = inspect_torch_build()
    advice = torch_build_advice(build, pip="%pip")
    label = QLabel(f"⚠ {advice}" if advice else "")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setToolTip(build.describe() if build else "PyTorch is not installed")
    label.setVisible(bool(advice))
    return label
