"""The package's shape: which layer may import which, and modules short enough to read.

The core (every step's computation) knows nothing of the dock widgets, the command line,
the scripting API or Qt, so it can run headless and be tested alone; the widgets and the
command line are two front ends that never depend on each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "napari_divnoising"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: Longest a module may be, in lines.
MAX_MODULE_LINES = 300
#: Modules allowed to be longer, each with the reason. Keep it empty: split a module instead.
LONG_MODULE_EXEMPTIONS: dict[str, str] = {
    # The Poisson–Gaussian estimator and the generalized Anscombe pair it feeds: one idea,
    # mostly docstrings with their references; 19 lines over.
    "napari_divnoising/core/noise_model/poisson_gaussian.py": "one estimator and its transform",
}

#: Top-level packages of the GUI stack, which the core must not import.
GUI_PACKAGES = {
    "qtpy",
    "napari",
    "magicgui",
    "superqt",
    "pyqtgraph",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
}
#: The layers the core must not import (nor the package root, which re-exports them).
FRONT_ENDS = (f"{PACKAGE}.widgets", f"{PACKAGE}.cli", f"{PACKAGE}.api")


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def _dotted_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    name = _dotted_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(path: Path) -> set[str]:
    """Return the dotted names a module imports (relative imports resolved).

    ``from package import name`` counts as importing ``package`` and ``package.name``
    (the name may be a submodule). Imports inside functions and ``TYPE_CHECKING``
    blocks count too: they are dependencies all the same.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _package_of(path).split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _layer(path: Path) -> str:
    parts = path.relative_to(SOURCE).parts
    return parts[0] if len(parts) > 1 else "root"


def _violations(layer: str, forbidden) -> list[str]:
    problems = []
    for path in _modules():
        if _layer(path) != layer:
            continue
        for name in sorted(imported_modules(path)):
            reason = forbidden(name)
            if reason:
                problems.append(f"{path.relative_to(SOURCE.parent)} imports {name} ({reason})")
    return problems


def _forbidden_in_core(name: str) -> str | None:
    if name == PACKAGE:
        return "the package root"
    if any(_is_within(name, front) for front in FRONT_ENDS):
        return "a front end"
    if name.split(".")[0] in GUI_PACKAGES:
        return "the GUI stack"
    return None


def test_the_resolver_sees_relative_imports():
    sampling = SOURCE / "core" / "prediction" / "sampling.py"
    names = imported_modules(sampling)
    assert f"{PACKAGE}.core.events" in names
    assert f"{PACKAGE}.core.prediction.config" in names
    assert _forbidden_in_core(PACKAGE) and _forbidden_in_core(f"{PACKAGE}.cli._predict")
    assert _forbidden_in_core("napari.layers") and not _forbidden_in_core(f"{PACKAGE}.core")


def test_the_core_imports_no_front_end_no_gui_and_not_the_package_root():
    assert not _violations("core", _forbidden_in_core)


@pytest.mark.parametrize(("layer", "other"), [("widgets", "cli"), ("cli", "widgets")])
def test_widgets_and_command_line_do_not_import_each_other(layer, other):
    def forbidden(name: str) -> str | None:
        return "the other front end" if _is_within(name, f"{PACKAGE}.{other}") else None

    assert not _violations(layer, forbidden)


def test_no_module_is_longer_than_the_limit():
    counts = {
        str(path.relative_to(SOURCE.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in _modules()
    }
    too_long = {
        name: count
        for name, count in counts.items()
        if count > MAX_MODULE_LINES and name not in LONG_MODULE_EXEMPTIONS
    }
    listed = ", ".join(f"{name} ({count} lines)" for name, count in sorted(too_long.items()))
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {listed}"


def test_exemptions_are_still_needed():
    for name in LONG_MODULE_EXEMPTIONS:
        path = SOURCE.parent / name
        assert path.is_file(), f"{name} is exempt but no longer exists"
        assert len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES
