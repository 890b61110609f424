"""The documentation's code runs: docstring examples and the runnable example script."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from .waiting import EVENT_WAIT_S

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "napari_divnoising"


def modules_with_examples() -> list[str]:
    """Dotted names of the package modules whose docstrings hold ``>>>`` examples."""
    names = []
    for path in sorted(SOURCE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            relative = path.relative_to(SOURCE.parent).with_suffix("")
            names.append(".".join(relative.parts))
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_example_script_runs_end_to_end(tmp_path):
    script = ROOT / "docs" / "examples" / "denoise_sample_data.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--quick"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=EVENT_WAIT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "MMSE" in completed.stdout and "MAP" in completed.stdout


def test_the_docs_name_the_menus_as_napari_builds_them_from_the_manifest():
    import re

    import yaml

    manifest = yaml.safe_load((SOURCE / "napari.yaml").read_text(encoding="utf-8"))
    plugin = manifest["display_name"]
    contributions = manifest["contributions"]
    samples = [sample["display_name"] for sample in contributions["sample_data"]]
    docks = [widget["display_name"] for widget in contributions["widgets"]]
    # With several samples (or widgets), napari makes a submenu named after the plugin
    # whose items carry the contributions' own names.
    assert len(samples) > 1 and len(docks) > 1
    pages = [ROOT / "README.md", ROOT / "docs" / "first-hour.md", ROOT / "docs" / "user-guide.md"]
    for page in pages:
        text = " ".join(page.read_text(encoding="utf-8").replace("*", "").split())
        submenus = re.findall(r"(?:Open Sample|Plugins) [▸›] ([\w-]+)", text)
        assert submenus, f"{page.name} does not say where the menus are"
        wrong = [name for name in submenus if name != plugin]
        assert not wrong, f"{page.name} names submenus napari does not show: {wrong}"
        for name in samples if page.name != "README.md" else []:
            assert name in text, f"{page.name} does not name the sample entry {name!r}"
