"""The pre-commit hooks, run for real on a copy of the tree with the network cut off.

pre-commit gets a fresh environment of its own (cached as ``tests/fresh_envs.py`` says); the
hooks' programs (ruff, check-jsonschema, pytest) come from the project's environment, as on
a contributor's machine. The copy holds the tree's files as they are now (tracked and new,
not ignored), so the hooks that fix files touch only the copy. "Offline" is enforced, not
assumed: pip may use no index, git and pip reach no server (an unreachable proxy), and
pre-commit's store must stay free of cloned repositories. Measured on two cores shared with
other work: cold (pre-commit installed) 35 to 50 s, warm 25 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conventions import ROOT
from .fresh_envs import fresh_env, python_of, run

#: Seconds the whole module may take on a cold cache.
BUDGET_S = 300
#: A port nothing listens on: every request through this proxy is refused at once.
NO_NETWORK = "http://127.0.0.1:9"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUDGET_S)]


@pytest.fixture(scope="module")
def pre_commit(cache, budget) -> Path:
    """The ``pre-commit`` command of its own environment (built with the network)."""
    env = fresh_env(cache / "pre-commit", ("pre-commit",), budget=budget)
    return python_of(env).with_name("pre-commit")


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    """The tree's files (tracked and new, not ignored) in a fresh git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path / "tree"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file being deleted in the tree is skipped
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "."], cwd=copy, check=True)
    return copy


@pytest.fixture
def offline(monkeypatch, tmp_path) -> Path:
    """No index for pip, no server for pip or git; returns pre-commit's (empty) store."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, NO_NETWORK)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    store = tmp_path / "pre-commit-store"
    monkeypatch.setenv("PRE_COMMIT_HOME", str(store))
    # the hooks' programs: the project's environment first, as when it is activated
    project_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([project_bin, os.environ["PATH"]]))
    return store


def test_precommit_config_is_valid(pre_commit, offline, budget):
    config = ROOT / ".pre-commit-config.yaml"
    run([pre_commit, "validate-config", config], what="pre-commit validate-config", budget=budget)


def test_precommit_hooks_pass_offline_on_the_tree(pre_commit, tree_copy, offline, budget):
    output = run(
        [pre_commit, "run", "--all-files", "--show-diff-on-failure", "--color=never"],
        what="pre-commit run --all-files (offline, on a copy of the tree)",
        budget=budget,
        cwd=tree_copy,
    )
    skipped = [line for line in output.splitlines() if line.endswith("Skipped")]
    assert not skipped, f"hooks that matched no file, so checked nothing:\n{output}"
    cloned = [path.name for path in offline.glob("repo*")]
    assert not cloned, f"pre-commit fetched repositories {cloned} into its store"
