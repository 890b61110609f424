"""The released form: the sdist and the wheel, built from the tracked tree as a release is.

A snapshot of the tracked files (their contents in the working tree; untracked and ignored
files left out, as in a fresh clone) is built three ways: the sdist, the wheel from that sdist
(``python -m build``, as a release is made) and the wheel straight from the tree. The tests
check that

- the wheel holds the package with its npe2 manifest, ``napari.yaml``, and nothing else: every
  tracked file of ``src/napari_divnoising``, no tests, benchmarks or docs;
- its metadata declare the napari plugin and the ``divnoising`` command; the base install asks
  for no Qt binding (napari's advice for plugins), the ``all`` extra for one;
- the sdist rebuilds the same wheel: the same members, byte for byte, but for what may differ:
  the commit id that setuptools-scm writes into ``_version.py`` (known from git, not from an
  sdist) and RECORD's hash of that file;
- ``check-manifest`` passes: MANIFEST.in gives the same sdist from a copy without git.

tests/test_extras.py installs the wheel, with each extra and with ``all``, and runs it.
Measured on two cores shared with other work: cold (build requirements fetched) and warm
alike, 20 to 45 s, the builds' isolated environments taking most of it.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

from .fresh_envs import PYPI, ROOT, Budget, run

#: Seconds the whole module may take: three isolated builds and check-manifest's two.
BUDGET_S = 240
PACKAGE = "napari_divnoising"
#: Written by setuptools-scm at build time: the version and, from git only, the commit id.
VERSION_FILE = f"{PACKAGE}/_version.py"
#: Folders of the tree that a wheel must not hold.
NOT_SHIPPED = ("tests", "benchmarks", "docs")
#: Qt bindings, and the extras of napari that bring one: only the ``all`` extra may ask.
QT_BINDINGS = {"pyqt5", "pyqt6", "pyside2", "pyside6"}
NAPARI_QT_EXTRAS = {"pyqt", "pyqt5", "pyqt6", "pyside", "pyside2", "pyside6", "qt", "all"}
MANIFEST_HINT = (
    "\nA tracked file missing from the sdist needs a rule in MANIFEST.in; one that must not ship,"
    " an ignore in pyproject.toml's [tool.check-manifest]." + PYPI
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(BUDGET_S),
    # the wheel is pure Python, and the release workflow builds it on Linux
    pytest.mark.skipif(sys.platform == "win32", reason="the release is built on Linux"),
]


@dataclass(frozen=True)
class Built:
    """The artefacts built from one snapshot of the tracked tree."""

    sdist: Path
    wheel_from_sdist: Path
    wheel_from_tree: Path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, budget) -> Path:
    """A git repository holding the tracked files of this tree, as they are now, committed."""
    tree = tmp_path_factory.mktemp("snapshot")
    for name in tracked_files():
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the tree is not shipped
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    identity = ["-c", "user.name=snapshot", "-c", "user.email=snapshot@localhost"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "snapshot"]):
        run(["git", *command], what=f"git {command[-1]} of the snapshot", budget=budget, cwd=tree)
    return tree


@pytest.fixture(scope="module")
def built(snapshot, tmp_path_factory, budget) -> Built:
    """The sdist, the wheel built from it and the wheel built from the tree."""
    out = tmp_path_factory.mktemp("built")
    build = [sys.executable, "-m", "build", "--outdir"]
    # without --sdist or --wheel, build makes the sdist, then the wheel from the sdist
    run([*build, out / "sdist", snapshot], what="python -m build", budget=budget, hint=PYPI)
    run(
        [*build, out / "tree", "--wheel", snapshot],
        what="python -m build --wheel",
        budget=budget,
        hint=PYPI,
    )
    (sdist,) = (out / "sdist").glob("*.tar.gz")
    (wheel_from_sdist,) = (out / "sdist").glob("*.whl")
    (wheel_from_tree,) = (out / "tree").glob("*.whl")
    return Built(sdist, wheel_from_sdist, wheel_from_tree)


def tracked_files(folder: str = "") -> list[str]:
    """The paths git tracks in this tree (under `folder`), relative to the root."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", folder or "."],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return [name for name in listed.stdout.split("\0") if name]


def test_the_wheel_holds_the_package_and_its_napari_manifest_and_nothing_else(built, snapshot):
    names = wheel_members(built.wheel_from_tree)
    shipped = [n for n in names if PurePosixPath(n).parts[0] in NOT_SHIPPED or _is_test(n)]
    assert not shipped, f"the wheel holds tests, benchmarks or docs: {shipped}"
    package = {n for n in names if not _dist_info(n)}
    source = snapshot / "src"
    expected = {VERSION_FILE} | {
        path.relative_to(source).as_posix()
        for path in (source / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not expected - package, (
        f"the wheel lacks {sorted(expected - package)}: see pyproject.toml's packages and "
        "package-data"
    )
    assert not package - expected, (
        f"the wheel holds files git does not track: {sorted(package - expected)}"
    )
    manifest = f"{PACKAGE}/napari.yaml"
    with zipfile.ZipFile(built.wheel_from_tree) as wheel:
        shipped_manifest = wheel.read(manifest)
    assert shipped_manifest == (source / manifest).read_bytes(), (
        f"the wheel's {manifest} differs from the tree's"
    )


def test_the_wheel_declares_the_plugin_and_the_command_and_no_qt_binding(built):
    entry_points = configparser.ConfigParser()
    entry_points.read_string(dist_info_text(built.wheel_from_tree, "entry_points.txt"))
    declared = {section: dict(entry_points[section]) for section in entry_points.sections()}
    assert declared.get("napari.manifest") == {"napari-divnoising": f"{PACKAGE}:napari.yaml"}, (
        f"npe2 finds a plugin by the napari.manifest entry point; the wheel declares {declared}"
    )
    assert declared.get("console_scripts") == {"divnoising": f"{PACKAGE}.cli:main"}, declared
    metadata = dist_info_text(built.wheel_from_tree, "METADATA")
    qt = qt_requirements(metadata)
    assert None not in qt, f"the base install asks for a Qt binding: {qt[None]} (napari's advice)"
    assert "all" in qt, f"the all extra brings no Qt binding for napari (only {list(qt)} do)"


def test_the_sdist_rebuilds_the_same_wheel(built):
    from_tree, from_sdist = map(wheel_members, (built.wheel_from_tree, built.wheel_from_sdist))
    assert from_sdist == from_tree, (
        f"the wheel built from the sdist lacks {sorted(set(from_tree) - set(from_sdist))} and "
        f"adds {sorted(set(from_sdist) - set(from_tree))}: the sdist misses files (MANIFEST.in)"
    )
    differ = differing_members(built.wheel_from_tree, built.wheel_from_sdist)
    assert not differ, (
        f"these members of the wheel differ when it is built from the sdist: {differ}"
    )


def test_check_manifest_finds_the_sdist_the_same_without_git(snapshot, budget: Budget):
    output = run(
        [sys.executable, "-m", "check_manifest", snapshot],
        what="check-manifest (MANIFEST.in and [tool.check-manifest] in pyproject.toml)",
        budget=budget,
        cwd=snapshot,
        hint=MANIFEST_HINT,
    )
    assert "lists of files in version control and sdist match" in output, output


def wheel_members(wheel: Path) -> list[str]:
    """The names of the files in `wheel`, in order, the directory entries left out."""
    with zipfile.ZipFile(wheel) as archive:
        return [name for name in archive.namelist() if not name.endswith("/")]


def differing_members(wheel: Path, other: Path) -> list[str]:
    """The members of `wheel` that differ in `other` (which holds the same names).

    Not compared: the commit id in ``_version.py`` (setuptools-scm knows it from git, not from
    an sdist) and the line of RECORD that hashes that file.
    """
    with zipfile.ZipFile(wheel) as first, zipfile.ZipFile(other) as second:
        return [
            name
            for name in wheel_members(wheel)
            if _comparable(name, first.read(name)) != _comparable(name, second.read(name))
        ]


def dist_info_text(wheel: Path, name: str) -> str:
    """The text of the file `name` of the wheel's ``.dist-info`` folder."""
    with zipfile.ZipFile(wheel) as archive:
        (member,) = (n for n in archive.namelist() if _dist_info(n) and n.endswith(f"/{name}"))
        return archive.read(member).decode()


def qt_requirements(metadata: str) -> dict[str | None, list[str]]:
    """The requirements in `metadata` that bring a Qt binding, by extra (None: the base)."""
    lines = metadata.splitlines()
    extras = [
        line.removeprefix("Provides-Extra:").strip()
        for line in lines
        if line.startswith("Provides-Extra:")
    ]
    found: dict[str | None, list[str]] = {}
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
        name = requirement.name.lower()
        if name in QT_BINDINGS or (name == "napari" and requirement.extras & NAPARI_QT_EXTRAS):
            marker = requirement.marker
            for extra in [e for e in extras if marker and marker.evaluate({"extra": e})] or [None]:
                found.setdefault(extra, []).append(str(requirement))
    return found


def _comparable(name: str, data: bytes) -> list[bytes]:
    lines = data.splitlines()
    if name == VERSION_FILE:
        return [line for line in lines if not line.startswith(b"__commit_id__")]
    if _dist_info(name) and name.endswith("/RECORD"):
        return [line for line in lines if not line.startswith(f"{VERSION_FILE},".encode())]
    return lines


def _dist_info(name: str) -> bool:
    return PurePosixPath(name).parts[0].endswith(".dist-info")


def _is_test(name: str) -> bool:
    file = PurePosixPath(name).name
    return file.startswith("test_") or file == "conftest.py"
