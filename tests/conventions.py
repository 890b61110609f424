"""The project's metadata files, read for the tests of its conventions.

``pyproject.toml``, ``tox.ini``, the GitHub workflows, ``CITATION.cff`` and the other files
that describe the project rather than run it; the tests in ``test_conventions.py``,
``test_workflows.py`` and ``test_changelog.py`` hold them to each other.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package (pytest depends on it there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
#: An http(s) address in Markdown, YAML or TOML text, up to a closing bracket or quote.
URL = re.compile(r"https?://[^\s)\]>\"'`]+")


def pyproject() -> dict:
    """The parsed ``pyproject.toml``."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def load_yaml(path: Path) -> dict:
    """The parsed YAML file `path`."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def workflow(name: str) -> dict:
    """The workflow ``.github/workflows/<name>``, its triggers under ``"on"``.

    YAML 1.1 reads the bare key ``on`` as the boolean true; GitHub reads it as "on".
    """
    parsed = load_yaml(WORKFLOWS / name)
    if True in parsed:
        parsed["on"] = parsed.pop(True)
    return parsed


def urls(text: str) -> list[str]:
    """The http(s) addresses in `text`, without trailing punctuation."""
    return [found.rstrip(".,;:") for found in URL.findall(text)]
