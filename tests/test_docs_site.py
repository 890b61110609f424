"""The documentation site builds with ``mkdocs build --strict``: every page, every image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from .waiting import EVENT_WAIT_S

pytestmark = pytest.mark.slow  # a build takes seconds

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: A Markdown image: ``![alt](path)``, the path up to a space or ``)``.
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


class _Images(HTMLParser):
    """Collects the ``src`` of every ``<img>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [value for name, value in attrs if name == "src" and value]


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """Run ``mkdocs build --strict`` of `config` into `site`."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    return subprocess.run(
        [*command, "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        timeout=EVENT_WAIT_S,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no advert for mkdocs 2
    )


def built_page(site: Path, page: Path) -> Path:
    """The HTML file mkdocs writes for the Markdown `page` (directory URLs)."""
    relative = page.relative_to(DOCS).with_suffix("")
    if relative.name == "index":
        return site / relative.parent / "index.html"
    return site / relative / "index.html"


def image_files(html: Path) -> list[Path]:
    """The local files the ``<img>`` tags of `html` point to (they may not exist)."""
    parser = _Images()
    parser.feed(html.read_text(encoding="utf-8"))
    local = [src for src in parser.sources if not urlsplit(src).scheme]
    return [(html.parent / unquote(urlsplit(src).path)).resolve() for src in local]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for this module's tests."""
    folder = tmp_path_factory.mktemp("site")
    completed = build(ROOT / "mkdocs.yml", folder)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return folder


PAGES = sorted(DOCS.rglob("*.md"))


def test_the_site_builds_strictly_with_a_page_for_every_markdown_file(site):
    missing = [page.name for page in PAGES if not built_page(site, page).is_file()]
    assert not missing, f"no page built for {missing}"
    assert (site / "search" / "search_index.json").is_file(), "the search plugin did not run"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_image_of_a_page_is_shown_from_a_file_of_the_site(site, page):
    html = built_page(site, page)
    shown = image_files(html)
    missing = [str(path.relative_to(site.resolve())) for path in shown if not path.is_file()]
    assert not missing, f"{page.name} shows images the site lacks: {missing}"
    wanted = {
        (page.parent / unquote(target)).resolve().relative_to(DOCS)
        for target in MARKDOWN_IMAGE.findall(page.read_text(encoding="utf-8"))
    }
    on_page = {path.relative_to(site.resolve()) for path in shown}
    assert wanted <= on_page, f"{page.name} does not show {sorted(map(str, wanted - on_page))}"


BREAKAGES = {
    "a link to a missing page": "[gone](no-such-page.md)",
    "a link to a missing anchor": "[gone](faq.md#no-such-question)",
    "a missing image": "![gone](images/no-such-screenshot.png)",
    "a link out of docs/": "[gone](../README.md)",
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_broken_reference_fails_the_build(tmp_path, breakage):
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + f"\n{breakage}\n", encoding="utf-8")

    completed = build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert completed.returncode != 0, f"--strict let {breakage!r} through"
    target = re.search(r"\((.+)\)", breakage).group(1)
    assert target in completed.stderr, completed.stderr[-3000:]
