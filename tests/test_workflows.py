"""The GitHub workflows: valid, pinned, testing what the package claims, publishing safely.

They cannot run here, so what can go wrong on GitHub is checked offline: the schema GitHub
validates against (check-jsonschema's copy of SchemaStore's), actions pinned to versions,
a test matrix whose every job runs the suite under tox (a job whose platform tox does not
map runs nothing and still passes), and a release that only trusted publishing can upload.
"""

from __future__ import annotations

import configparser
import itertools
import re
import subprocess
import sys

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .conventions import ROOT, WORKFLOWS, pyproject, workflow

#: A reference GitHub cannot move under us: a version tag (v4, v1.12.4) or a commit.
PINNED = re.compile(r"^(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
PUBLISH_ACTION = "pypa/gh-action-pypi-publish"


def tox_ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    return parser


def mapping(value: str) -> dict[str, str]:
    """A tox-gh-actions table ("3.10: py310" lines) as a dict."""
    pairs = (line.split(":", 1) for line in value.strip().splitlines() if ":" in line)
    return {key.strip(): factor.strip() for key, factor in pairs}


def expand_envlist(envlist: str) -> set[str]:
    """Tox's env names from ``py{310,311}-{linux,macos}, other`` (its brace products)."""
    names = set()
    for item in re.split(r",(?![^{]*\})", envlist):
        parts = re.split(r"(\{[^}]*\})", item.strip())
        choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts if p]
        names |= {"".join(c.strip() for c in combo) for combo in itertools.product(*choices)}
    return names


def all_uses() -> list[tuple[str, str]]:
    """Every (workflow, ``uses:``) pair, of steps and of jobs that call a workflow."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in workflow(path.name)["jobs"].values():
            found += [(path.name, job["uses"])] if "uses" in job else []
            found += [(path.name, step["uses"]) for step in job.get("steps", []) if "uses" in step]
    return found


def matrix() -> dict:
    return workflow("test.yml")["jobs"]["test"]["strategy"]["matrix"]


def test_workflows_match_githubs_schema():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [path.name for path in files] == ["release.yml", "test.yml"]
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    done = subprocess.run(
        [*command, "vendor.github-workflows", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_to_a_version():
    for name, uses in all_uses():
        if uses.startswith("./"):
            assert (ROOT / uses).is_file(), f"{name} calls {uses}, which does not exist"
            continue
        _action, _, ref = uses.partition("@")
        assert PINNED.match(ref), f"{name}: {uses} is not pinned to a version tag or a commit"


def test_matrix_pythons_are_the_supported_ones():
    """The matrix tests exactly the Pythons the classifiers claim, all allowed to install."""
    project = pyproject()["project"]
    allowed = SpecifierSet(project["requires-python"])
    prefix = "Programming Language :: Python :: "
    claimed = {c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix)}
    claimed = {v for v in claimed if re.fullmatch(r"3\.\d+", v)}
    tested = set(matrix()["python-version"])
    refused = sorted(v for v in tested if Version(v) not in allowed)
    assert not refused, f"requires-python {allowed} refuses the matrix's Python {refused}"
    assert tested == claimed, (
        f"the test matrix runs Python {sorted(tested)} but pyproject's classifiers claim "
        f"{sorted(claimed)}: test what is claimed, claim what is tested"
    )


def test_every_matrix_job_runs_the_suite_under_tox():
    """Each (Python, platform) of the matrix names a tox environment that runs there."""
    tox = tox_ini()
    pythons = mapping(tox["gh-actions"]["python"])
    platforms = (
        mapping(tox["gh-actions:env"]["PLATFORM"]) if tox.has_section("gh-actions:env") else {}
    )
    envs = expand_envlist(tox["tox"]["envlist"])
    runs_on = mapping(tox["testenv"].get("platform", ""))
    for python, platform in itertools.product(matrix()["python-version"], matrix()["platform"]):
        assert python in pythons, f"tox.ini's [gh-actions] python has no {python}: no env runs"
        assert platform in platforms, (
            f"tox.ini's [gh-actions:env] PLATFORM has no {platform}: tox would run the Linux "
            "environments there, which its platform setting skips, and the job passes empty"
        )
        factor = platforms[platform]
        env = f"{pythons[python]}-{factor}"
        assert env in envs, f"tox.ini's envlist has no {env} for {platform} py{python}"
        assert factor in runs_on, f"tox.ini's [testenv] platform has no line for {factor}"


def test_linux_jobs_install_pytorchs_cpu_build():
    """PyPI's Linux torch is the CUDA build, gigabytes the runners neither need nor have."""
    steps = workflow("test.yml")["jobs"]["test"]["steps"]
    cpu = [s for s in steps if "download.pytorch.org/whl/cpu" in s.get("run", "")]
    assert cpu, "test.yml never points pip at PyTorch's CPU index"
    assert "PIP_EXTRA_INDEX_URL" in cpu[0]["run"] and "Linux" in cpu[0].get("if", "")
    tox_step = next(i for i, s in enumerate(steps) if "tox" in str(s.get("with", s.get("run"))))
    assert steps.index(cpu[0]) < tox_step, "the CPU index must be set before tox installs"


def publish_jobs(jobs: dict) -> dict[str, dict]:
    return {
        name: job
        for name, job in jobs.items()
        if any(step.get("uses", "").startswith(PUBLISH_ACTION) for step in job.get("steps", []))
    }


def test_release_publishes_only_by_trusted_publishing():
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}, "release.yml must run on v* tags only"
    text = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    assert "secrets." not in text, "release.yml reads a stored secret: publish by OIDC instead"
    assert "id-token" not in str(release.get("permissions", {})), "id-token: job level only"
    jobs = release["jobs"]
    ((name, publish),) = publish_jobs(jobs).items()
    assert publish["permissions"] == {"id-token": "write"}, f"{name}: {publish['permissions']}"
    assert publish["environment"] == "pypi", f"{name} must run in the environment 'pypi'"
    for step in publish["steps"]:
        given = set(step.get("with", {}))
        assert not given & {"password", "user"}, f"{name} passes {given}: no stored credential"
    others = [
        n for n, job in jobs.items() if n != name and "id-token" in str(job.get("permissions"))
    ]
    assert not others, f"jobs {others} can ask for an OIDC token; only {name} may"


@pytest.mark.parametrize(
    "needed", ["python -m build", "twine check --strict", "CHANGELOG.md", "napari_divnoising-"]
)
def test_release_checks_what_it_builds(needed):
    jobs = workflow("release.yml")["jobs"]
    (publish,) = publish_jobs(jobs).values()
    (build,) = (jobs[name] for name in publish["needs"])
    commands = "\n".join(step.get("run", "") for step in build["steps"])
    assert needed in commands, f"release.yml's build job never runs {needed!r}"


def test_release_waits_for_the_whole_test_matrix():
    jobs = workflow("release.yml")["jobs"]
    callers = [n for n, job in jobs.items() if job.get("uses") == "./.github/workflows/test.yml"]
    assert callers, "release.yml does not run the test matrix"
    assert "workflow_call" in workflow("test.yml")["on"], "test.yml cannot be called"
    (publish,) = publish_jobs(jobs).values()
    (build,) = (jobs[name] for name in publish["needs"])
    assert set(callers) <= set(build["needs"]), "the build must wait for the tests"
