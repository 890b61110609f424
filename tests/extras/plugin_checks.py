"""Check that napari meets the installed napari-divnoising as a plugin, as a user's napari does.

Used by ``check_extra.py``, in an environment where the wheel is installed (not editable):

- the package is imported from that environment's site-packages, installed from a wheel;
- npe2 discovers the plugin, through its ``napari.manifest`` entry point, with the
  contributions of the tree's ``src/napari_divnoising/napari.yaml`` (commands, the four docks,
  the two samples), each command pointing at a module that exists;
- each sample loads through napari's ``open_sample``, as File > Open Sample does;
- where a Qt binding is installed (the ``all`` extra brings napari[pyqt6]), each dock opens in a
  headless viewer, ``napari.Viewer(show=False)``, which needs a display (Xvfb: pytest-xvfb gives
  the suite one; run tox under ``xvfb-run``). The extras alone bring no Qt binding (checked:
  napari's advice for plugins), so there the docks' modules are only found, not imported, and
  the samples load into napari's Qt-free ``ViewerModel``.

Each check exits with a message saying what is wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import sysconfig
from pathlib import Path

PLUGIN = "napari-divnoising"
#: The manifest of the tree these checks come from, which the installed one must match.
TREE_MANIFEST = Path(__file__).resolve().parents[2] / "src" / "napari_divnoising" / "napari.yaml"
QT_BINDINGS = ("PyQt5", "PyQt6", "PySide2", "PySide6")
#: The fields of each kind of contribution that must match the tree's manifest.
CONTRIBUTIONS = {
    "commands": ("id", "python_name"),
    "widgets": ("command", "display_name"),
    "sample_data": ("key", "command", "display_name"),
}


def check_installed_from_wheel() -> None:
    """The package comes from this environment's site-packages, installed from a wheel."""
    from importlib.metadata import distribution

    import napari_divnoising

    location = Path(napari_divnoising.__file__).resolve()
    site = Path(sysconfig.get_path("purelib")).resolve()
    if site not in location.parents:
        sys.exit(f"napari_divnoising is imported from {location}, not from {site}")
    origin = json.loads(distribution(PLUGIN).read_text("direct_url.json") or "{}")
    if origin.get("dir_info", {}).get("editable") or not origin.get("url", "").endswith(".whl"):
        sys.exit(f"napari-divnoising is not installed from a wheel: {origin}")
    print(f"ok: napari-divnoising installed from {origin['url'].rsplit('/', 1)[-1]}")


def qt_binding() -> str | None:
    """The Qt binding installed here, if any (found, not imported)."""
    return next((name for name in QT_BINDINGS if importlib.util.find_spec(name)), None)


def discovered_manifest():
    """The plugin's manifest as npe2 discovers it, checked against the tree's napari.yaml."""
    from npe2 import PluginManager, PluginManifest

    manager = PluginManager.instance()
    manager.discover()
    found = [manifest.name for manifest in manager.iter_manifests()]
    if PLUGIN not in found:
        sys.exit(f"npe2 does not discover {PLUGIN}; it finds {found}")
    manifest = manager.get_manifest(PLUGIN)
    expected = PluginManifest.from_file(TREE_MANIFEST)
    for kind, fields in CONTRIBUTIONS.items():
        got, want = (_described(m, kind, fields) for m in (manifest, expected))
        if got != want:
            sys.exit(f"npe2 finds the {kind} {got}; {TREE_MANIFEST} declares {want}")
    for command in manifest.contributions.commands:
        module = command.python_name.partition(":")[0]
        if importlib.util.find_spec(module) is None:  # found, not imported: it may need Qt
            sys.exit(f"the command {command.id} points at {module}, which is not installed")
    widgets = [widget.display_name for widget in manifest.contributions.widgets]
    print(f"ok: npe2 discovers {PLUGIN} with the docks {widgets}")
    return manifest


def check_samples(viewer, manifest) -> None:
    """Each sample of the manifest loads into `viewer` as napari's File > Open Sample does."""
    for sample in manifest.contributions.sample_data:
        layers = viewer.open_sample(PLUGIN, sample.key)
        if not layers or any(layer.data.ndim < 2 or layer.data.size == 0 for layer in layers):
            sys.exit(f"the sample {sample.key!r} gave no image: {layers}")
        print(f"ok: sample {sample.key!r} loads as {[layer.name for layer in layers]}")


def check_without_qt(manifest) -> None:
    """The samples load into napari's Qt-free viewer model (no Qt binding to open docks)."""
    from napari.components import ViewerModel

    check_samples(ViewerModel(), manifest)


def check_docks(manifest) -> None:
    """Each dock of the manifest opens in a headless viewer; the samples load into it."""
    import napari
    from qtpy.QtWidgets import QApplication

    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        sys.exit("the docks need a display: run under Xvfb (pytest-xvfb, or xvfb-run tox)")
    viewer = napari.Viewer(show=False)
    try:
        print(f"viewer on Qt platform {QApplication.instance().platformName()}")
        check_samples(viewer, manifest)
        classes = {c.id: c.python_name.rpartition(":")[2] for c in manifest.contributions.commands}
        for widget in manifest.contributions.widgets:
            _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, widget.display_name)
            if type(dock).__name__ != classes[widget.command]:
                sys.exit(f"the dock {widget.display_name!r} opened {type(dock).__name__}")
            QApplication.processEvents()
            print(f"ok: dock {widget.display_name!r} opens ({type(dock).__name__})")
    finally:
        viewer.close()


def check_plugin(*, expect_qt: bool) -> None:
    """Check discovery and samples, and the docks where a Qt binding is `expect_qt`."""
    binding = qt_binding()
    if expect_qt and binding is None:
        sys.exit("no Qt binding is installed: the all extra should bring napari[pyqt6]")
    if not expect_qt and binding is not None:
        sys.exit(f"{binding} is installed: a Qt binding should come only with the all extra")
    manifest = discovered_manifest()
    (check_docks if expect_qt else check_without_qt)(manifest)


def _described(manifest, kind: str, fields: tuple[str, ...]) -> list[tuple]:
    entries = getattr(manifest.contributions, kind) or []
    return [tuple(getattr(entry, field) for field in fields) for entry in entries]
