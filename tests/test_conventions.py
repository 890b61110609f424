"""What the napari hub, citation tools and pre-commit read from the project.

The napari hub builds a plugin's page from three sources (napari.org, "Customizing your
plugin's listing on napari hub"): the package metadata on PyPI (pyproject.toml), the README
as the description, and the npe2 manifest (napari.yaml). The older ``.napari-hub/`` folder
(config.yml, DESCRIPTION.md) is not among them, so the project keeps none: a second
description would only drift from the README. No link may point where nothing is published:
the code is on no public forge and the package not yet on PyPI.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement

from .conventions import ROOT, load_yaml, pyproject, urls

MANIFEST = ROOT / "src" / "napari_divnoising" / "napari.yaml"
#: The files whose links users follow from PyPI, the napari hub or a citation.
LINKED_FILES = ("README.md", "CHANGELOG.md", "CITATION.cff", "pyproject.toml")
#: Hosts of code, packages and plugin pages: a link to this project there does not exist yet.
UNPUBLISHED_HOSTS = {
    "github.com",
    "raw.githubusercontent.com",
    "gitlab.com",
    "codeberg.org",
    "bitbucket.org",
    "pypi.org",
    "napari-hub.org",
    "zenodo.org",
    "readthedocs.io",
}
PROJECT_NAME = re.compile(r"napari[-_]divnoising", re.IGNORECASE)
#: The DivNoising paper's pages: OpenReview (ICLR 2021) and arXiv.
PAPER_ADDRESSES = {
    "https://openreview.net/forum?id=agHLCOBM5jP",
    "https://arxiv.org/abs/2006.06072",
}


def test_pyproject_has_what_the_hub_lists():
    project = pyproject()["project"]
    summary = project["description"]
    assert "\n" not in summary and 20 <= len(summary) <= 120, f"one-line summary: {summary!r}"
    assert project["readme"] == "README.md" and (ROOT / "README.md").is_file()
    assert "Framework :: napari" in project["classifiers"], "the hub lists only this classifier"
    status = [c for c in project["classifiers"] if c.startswith("Development Status ::")]
    assert len(status) == 1, f"one Development Status classifier, not {status}"
    for field in ("license", "requires-python", "authors", "urls"):
        assert project.get(field), f"pyproject's [project] has no {field} for the hub to show"


def test_manifest_names_the_plugin_as_the_package():
    manifest = load_yaml(MANIFEST)
    assert manifest["name"] == pyproject()["project"]["name"]
    assert manifest["display_name"].strip(), "the hub titles the plugin with display_name"


def test_no_napari_hub_folder():
    assert not (ROOT / ".napari-hub").exists(), (
        "the napari hub no longer reads .napari-hub/: describe the plugin in pyproject.toml, "
        "README.md and napari.yaml"
    )


def linked_urls() -> list[tuple[str, str]]:
    """(file, address) for every link of the metadata files and pyproject's project URLs."""
    found = [(name, url) for name in LINKED_FILES for url in urls(read(name))]
    found += [("napari.yaml", url) for url in urls(MANIFEST.read_text(encoding="utf-8"))]
    return found


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_no_link_points_where_nothing_is_published():
    dead = [
        f"{name}: {url}"
        for name, url in linked_urls()
        if is_forge(urlsplit(url).hostname or "") and PROJECT_NAME.search(url)
    ]
    assert not dead, f"links to places not published yet (add them once they exist): {dead}"


def is_forge(host: str) -> bool:
    return any(host == known or host.endswith(f".{known}") for known in UNPUBLISHED_HOSTS)


def test_citation_cites_this_software_and_divnoising():
    citation = load_yaml(ROOT / "CITATION.cff")
    project = pyproject()["project"]
    assert citation["cff-version"] == "1.2.0"
    assert (citation["type"], citation["title"]) == ("software", project["name"])
    assert citation["license"] == project["license"]
    paper = citation["preferred-citation"]
    assert paper["title"].startswith("Fully Unsupervised Diversity Denoising")
    assert [a["family-names"] for a in paper["authors"]] == ["Prakash", "Krull", "Jug"]
    assert paper["year"] == 2021
    assert "doi" not in paper, "the ICLR paper has no DOI: cite its OpenReview page"
    cited = set(urls(read("CITATION.cff")))
    assert cited <= PAPER_ADDRESSES, f"CITATION.cff links {cited - PAPER_ADDRESSES}"


def precommit_repos() -> list[dict]:
    return load_yaml(ROOT / ".pre-commit-config.yaml")["repos"]


def precommit_hooks() -> list[dict]:
    return [hook for repo in precommit_repos() for hook in repo["hooks"]]


def test_precommit_fetches_no_repository():
    fetched = [repo["repo"] for repo in precommit_repos() if repo["repo"] != "local"]
    assert not fetched, f"pre-commit would clone {fetched}: offline, only local hooks run"


@pytest.mark.parametrize("hook", precommit_hooks(), ids=lambda hook: hook["id"])
def test_precommit_hook_runs_offline_from_the_project_environment(hook):
    """A system hook runs a program the testing extra installs; nothing is downloaded."""
    assert hook["language"] == "system", f"{hook['id']}: language {hook['language']} installs"
    assert "additional_dependencies" not in hook, f"{hook['id']} would install dependencies"
    program, *arguments = hook["entry"].split()
    testing = pyproject()["project"]["optional-dependencies"]["testing"]
    installed = {Requirement(requirement).name for requirement in testing} | {"python"}
    assert program in installed, f"{hook['id']} runs {program}, which .[testing] lacks"
    missing = [arg for arg in arguments if arg.startswith("tests/") and not (ROOT / arg).exists()]
    assert not missing, f"{hook['id']} runs tests that do not exist: {missing}"
