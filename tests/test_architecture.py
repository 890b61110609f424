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
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(_names_imported_by(node, path))
    return found


def _names_imported_by(node: ast.Import | ast.ImportFrom, path: Path) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        parts = _package_of(path).split(".")
        base_parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    return {base} | {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}


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


# --- The floors of the core: read from docs/architecture.md, checked against the imports ---

ARCHITECTURE_PAGE = SOURCE.parents[1] / "docs" / "architecture.md"
CORE = f"{PACKAGE}.core"
#: Arrows from a room to one on a higher floor, each with its reason. At most three.
UPWARD_ARROWS: dict[tuple[str, str], str] = {}
MAX_UPWARD_ARROWS = 3
#: Libraries heavy enough to import inside functions (seconds, or GPU drivers).
HEAVY_LIBRARIES = {"torch", "bm3d", "dask", "distributed", "zarr", "bioimageio", "imageio"}


def _page() -> str:
    return ARCHITECTURE_PAGE.read_text(encoding="utf-8")


def floors_of_the_page() -> dict[str, int]:
    """Room -> floor, from the page's table "| Floor | Rooms | What they are |"."""
    floors = {}
    section = _page().split("## Floors and imports", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            for room in cells[1].split(","):
                floors[room.strip().strip("`")] = int(cells[0])
    return floors


def modules_of_the_page() -> set[str]:
    """Paths under ``core/`` named in the page's tree, e.g. ``prediction/recipe.py``."""
    block = _page().split("```text", 1)[1].split("```", 1)[0]
    paths, stack = set(), []
    for line in block.splitlines():
        marker = max(line.find("├── "), line.find("└── "))
        if marker < 0:
            continue
        depth = marker // 4
        name = line[marker + 4 :].split()[0]
        stack[depth:] = [name]
        path = "".join(stack)
        if path.startswith("core/") and name.endswith(".py"):
            paths.add(path.removeprefix("core/"))
    return paths


def _core_modules() -> dict[str, Path]:
    return {_dotted_name(path): path for path in _modules() if _layer(path) == "core"}


def _room(module: str) -> str | None:
    rest = module.removeprefix(CORE + ".")
    return None if rest == module else rest.split(".")[0]


def _resolved(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (anywhere: top level, functions, TYPE_CHECKING)."""
    modules = _core_modules()
    graph = {}
    for module, path in modules.items():
        targets = {_resolved(name, modules) for name in imported_modules(path)}
        graph[module] = {t for t in targets if t and t != module and t.startswith(CORE + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _top_level_imports(path: Path) -> set[str]:
    """What a module imports when it is imported (not in functions, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(_names_imported_by(node, path))
        pending.extend(ast.iter_child_nodes(node))
    return found


def _is_heavy(module: str, modules: dict[str, Path], seen: set[str] | None = None) -> bool:
    """Whether importing `module` imports a heavy library (itself or through our modules)."""
    seen = set() if seen is None else seen
    if module in seen:
        return False
    seen.add(module)
    for name in _top_level_imports(modules[module]):
        if name.split(".")[0] in HEAVY_LIBRARIES:
            return True
        ours = _resolved(name, modules) if name.startswith(CORE + ".") else None
        if ours and ours != module and _is_heavy(ours, modules, seen):
            return True
    return False


def _imports_in_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found.update(_names_imported_by(node, path))
    return found


def test_every_room_of_the_core_is_on_a_floor_of_the_page():
    rooms = {_room(module) for module in _core_modules()} - {None, ""}
    floors = floors_of_the_page()
    assert floors, "docs/architecture.md lost its table of floors"
    assert not rooms - set(floors), f"rooms on no floor of the page: {sorted(rooms - set(floors))}"
    assert not set(floors) - rooms, f"floors name rooms that do not exist: {set(floors) - rooms}"


def test_no_room_imports_one_on_a_higher_floor_but_the_listed_ones():
    floors = floors_of_the_page()
    upward = set()
    for module, targets in import_graph().items():
        for target in targets:
            source_room, target_room = _room(module), _room(target)
            if source_room and target_room and floors[target_room] > floors[source_room]:
                upward.add((source_room, target_room))
    assert len(UPWARD_ARROWS) <= MAX_UPWARD_ARROWS
    unexpected = sorted(upward - set(UPWARD_ARROWS))
    assert not unexpected, f"imports that run up a floor: {unexpected}"
    assert not set(UPWARD_ARROWS) - upward, "an allowed upward arrow is gone: drop it"


def test_no_module_of_the_core_imports_itself_back():
    assert not _cycles(import_graph())


def test_the_cycle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_imports_inside_functions_are_of_heavy_modules_from_light_ones():
    modules = _core_modules()
    needless = []
    for module, path in modules.items():
        for name in _imports_in_functions(path):
            ours = _resolved(name, modules) if name.startswith(CORE + ".") else None
            if ours is None or ours == module:
                continue
            if not _is_heavy(ours, modules) or _is_heavy(module, modules):
                needless.append(f"{module} imports {ours} inside a function")
    assert not needless, "imports to move to the top of the module: " + "; ".join(
        sorted(set(needless))
    )


def test_the_page_names_every_module_of_the_core_and_no_other():
    core = SOURCE / "core"
    on_disk = {path.relative_to(core).as_posix() for path in _modules() if core in path.parents}
    named = modules_of_the_page()
    assert not on_disk - named, (
        f"modules missing from docs/architecture.md: {sorted(on_disk - named)}"
    )
    assert not named - on_disk, (
        f"docs/architecture.md names modules that are gone: {sorted(named - on_disk)}"
    )
