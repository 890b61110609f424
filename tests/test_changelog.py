"""CHANGELOG.md: Keep a Changelog's shape, and an entry for the version being built.

A release tag is refused by the release workflow without a section here; these tests keep
the file in a shape that workflow, readers and tools (its headings, dates and categories)
rely on, and tie it to the installed version and to CITATION.cff's.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import re

from packaging.version import Version

from .conventions import ROOT, load_yaml

CHANGELOG = ROOT / "CHANGELOG.md"
#: The kinds of change Keep a Changelog 1.1.0 names, and no others.
CATEGORIES = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
RELEASE = re.compile(r"^## \[(?P<version>\d+\.\d+\.\d+)\] - (?P<date>\d{4}-\d{2}-\d{2})$")


def sections() -> list[tuple[str, list[str]]]:
    """Each ``## `` heading with the lines under it, in the file's order."""
    found: list[tuple[str, list[str]]] = []
    for line in CHANGELOG.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
    return found


def releases() -> list[tuple[Version, datetime.date]]:
    """The released versions with their dates, newest first as written."""
    # a malformed heading is reported by the headings' test, not here as a crash
    matches = [m for heading, _ in sections()[1:] if (m := RELEASE.match(heading))]
    return [(Version(m["version"]), datetime.date.fromisoformat(m["date"])) for m in matches]


def test_changelog_has_the_keep_a_changelog_headings():
    text = CHANGELOG.read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n"), "CHANGELOG.md must start with '# Changelog'"
    headings = [heading for heading, _ in sections()]
    assert headings[0] == "## [Unreleased]", f"the first section is {headings[0]!r}"
    wrong = [h for h in headings[1:] if not RELEASE.match(h)]
    assert not wrong, f"release headings must read '## [X.Y.Z] - YYYY-MM-DD': {wrong}"


def test_releases_are_newest_first():
    versions = [version for version, _ in releases()]
    dates = [date for _, date in releases()]
    assert versions, "CHANGELOG.md has no release yet"
    assert versions == sorted(versions, reverse=True), f"versions out of order: {versions}"
    assert len(set(versions)) == len(versions), f"a version appears twice: {versions}"
    assert dates == sorted(dates, reverse=True), f"dates out of order: {dates}"


def test_every_section_lists_changes_by_category():
    for heading, lines in sections():
        categories = [line[4:] for line in lines if line.startswith("### ")]
        unknown = sorted(set(categories) - set(CATEGORIES))
        assert not unknown, f"{heading}: {unknown} are not among {CATEGORIES}"
        assert len(categories) == len(set(categories)), f"{heading} repeats a category"
        for category, body in zip(categories, split_by_category(lines), strict=True):
            entries = [line for line in body if line.startswith("- ")]
            assert entries, f"{heading} › {category} lists no change ('- ' lines)"


def split_by_category(lines: list[str]) -> list[list[str]]:
    """The lines under each ``### `` heading of a section."""
    bodies: list[list[str]] = []
    for line in lines:
        if line.startswith("### "):
            bodies.append([])
        elif bodies:
            bodies[-1].append(line)
    return bodies


def test_the_installed_version_has_its_entry():
    """A release has its own section; a development build is written up under Unreleased."""
    installed = Version(importlib.metadata.version("napari-divnoising"))
    versions = [version for version, _ in releases()]
    if installed.is_devrelease or installed.local:
        # setuptools_scm numbers a build after the newest tag as the next version's .devN
        assert installed > versions[0], f"{installed} is older than the newest release"
    else:
        assert installed in versions, f"CHANGELOG.md has no section for {installed}"


def test_citation_gives_the_newest_release():
    cited = Version(str(load_yaml(ROOT / "CITATION.cff")["version"]))
    newest = releases()[0][0]
    assert cited == newest, f"CITATION.cff cites version {cited}, CHANGELOG's newest is {newest}"
