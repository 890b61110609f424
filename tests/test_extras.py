"""The wheel with each extra alone, and with all of them, in fresh environments, as users get it.

Our own environment has every extra at once, so one extra's pins can hide another's
breakage (the ``bigdata`` extra's ome-zarr-models caps pydantic below 2.13, which hid that
the ``bioimageio`` extra alone resolves a pydantic its bioimageio.spec cannot export with).
Here each extra gets a virtual environment of its own, and so does ``all``: ``torch==2.13.0``
first (the CPU build), then the wheel built from this tree with that extra (not an editable
install), then ``tests/extras/check_extra.py`` checks what every install must do
(``divnoising --help``, ``divnoising demo --quick``, napari's discovery of the plugin and its
samples) and drives what the extra adds. Only ``all`` brings a Qt binding (napari[pyqt6]):
there the four docks open in a headless viewer, ``napari.Viewer(show=False)`` on the display
that pytest-xvfb gives the suite; the extras alone, without Qt, check the manifest's
contributions as npe2 discovers them and load the samples into napari's Qt-free viewer model
(``tests/extras/plugin_checks.py``). The package that
the ``bioimageio`` check exports must also pass the newest released validators, each in an
environment of its own: ``bioimageio test`` of the newest bioimageio.core, and the format
validation of the newest bioimageio.spec.

The environments are cached as ``tests/fresh_envs.py`` says. Each run reinstalls only this
tree's wheel into them; those to build are built side by side. Measured on two cores
shared with other work, with ``all`` and the demos: cold (every environment built) 4 min 40 s,
and 10 min 40 s while others' builds loaded the machine; warm 1 min 50 s to 2 min 40 s.
``divnoising demo --quick`` takes 10 to 30 s in a warm environment, 40 s to 2 min 20 s in a
cold one (its first imports compile, beside the other environments' builds).
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .fresh_envs import PYPI, TORCH, Budget, fresh_env, locked, pip_install, python_of, run

SCRIPTS = Path(__file__).resolve().parent / "extras"
#: Seconds the whole module may take on a cold cache: the slowest measured (640 s, on a loaded
#: machine) and a margin. Warm, it takes about 2 minutes.
BUDGET_S = 840
#: The packages of an extra that the validators' environment takes over (bioimageio.spec
#: 0.5.12.0, pinned by the newest bioimageio.core, fails with pydantic >= 2.14).
VALIDATOR_CAPS = ("pydantic", "pydantic-core")
#: The extras with code paths of their own (``none``: the base install), and ``all`` of them,
#: the one with a Qt binding; the ``benchmarks`` extra only serves benchmarks/, which the
#: package does not ship.
EXTRAS = ("none", "bigdata", "bioimageio", "all")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUDGET_S)]


@pytest.fixture(scope="module")
def envs(wheel, cache, budget) -> Iterator[dict[str, Future[Path]]]:
    """The environments, name → path to come; those not cached are built side by side."""
    plans = {
        f"extra-{extra}": [(TORCH,), (str(wheel) if extra == "none" else f"{wheel}[{extra}]",)]
        for extra in EXTRAS
    }
    plans["validator-spec"] = [("bioimageio.spec",)]  # the newest, alone, pydantic uncapped
    # `bioimageio test` of the newest bioimageio.core: when that is the one our extra pins,
    # our environment has it; otherwise one of its own, with our caps on pydantic (the
    # bioimageio.spec 0.5.12.0 of bioimageio.core 0.11.0 fails with pydantic >= 2.14)
    pinned = _extra_requirements(wheel, "bioimageio", ("bioimageio.core",))
    if pinned != [f"bioimageio.core=={newest_release('bioimageio.core', budget=budget)}"]:
        caps = _extra_requirements(wheel, "bioimageio", VALIDATOR_CAPS)
        plans["validator-core"] = [(TORCH,), ("bioimageio.core", *caps)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(fresh_env, cache / name, *steps, budget=budget)
            for name, steps in plans.items()
        }
        futures.setdefault("validator-core", futures["extra-bioimageio"])
        yield futures


def newest_release(name: str, *, budget: Budget) -> str:
    """The newest release of `name` on PyPI."""
    output = run(
        [sys.executable, "-m", "pip", "index", "versions", name],
        what=f"pip index versions {name}",
        budget=budget,
        hint=PYPI,
    )
    found = re.search(rf"^{re.escape(name)} \((\S+)\)", output, flags=re.MULTILINE)
    assert found, f"no version of {name} in the output of pip index versions:\n{output}"
    return found[1]


@contextmanager
def extra_env(
    extra: str, envs: dict[str, Future[Path]], wheel: Path, budget: Budget
) -> Iterator[Path]:
    """The environment with the `extra` alone (``none``: no extra) and this tree's wheel."""
    env = envs[f"extra-{extra}"].result()
    with locked(env.with_name(f"{env.name}.lock")):
        # the cached environment has the dependencies; the code is this tree's
        pip_install(env, str(wheel), budget=budget, options=("--no-deps", "--force-reinstall"))
        yield env


def check(extra: str, env: Path, folder: Path, budget: Budget) -> str:
    script = [python_of(env), SCRIPTS / "check_extra.py", extra, folder]
    output = run(script, what=f"the check of the {extra} install", budget=budget, cwd=folder)
    print(output)  # the versions installed and each step's outcome, with the demo's time
    return output


def test_the_base_install_works_and_names_the_missing_extras(envs, wheel, budget, tmp_path):
    with extra_env("none", envs, wheel, budget) as env:
        assert "extra none: ok" in check("none", env, tmp_path, budget)


def test_bigdata_alone_predicts_to_ome_zarr(envs, wheel, budget, tmp_path):
    with extra_env("bigdata", envs, wheel, budget) as env:
        assert "extra bigdata: ok" in check("bigdata", env, tmp_path, budget)


def test_bioimageio_alone_exports_a_package_the_newest_validators_pass(
    envs, wheel, budget, tmp_path
):
    package = tmp_path / "package.zip"
    with extra_env("bioimageio", envs, wheel, budget) as env:
        assert "extra bioimageio: ok" in check("bioimageio", env, tmp_path, budget)
        output = run(
            [envs["validator-core"].result() / "bin" / "bioimageio", "test", package],
            what="bioimageio test (the newest bioimageio.core)",
            budget=budget,
            cwd=tmp_path,
        )
    assert "passed" in output
    output = run(
        [python_of(envs["validator-spec"].result()), SCRIPTS / "validate_with_spec.py", package],
        what="the newest bioimageio.spec's validation",
        budget=budget,
        cwd=tmp_path,
    )
    assert "valid-format" in output or "passed" in output


def test_all_extras_open_the_four_docks_in_a_headless_viewer(envs, wheel, budget, tmp_path):
    with extra_env("all", envs, wheel, budget) as env:
        output = check("all", env, tmp_path, budget)
    assert "extra all: ok" in output
    assert output.count("ok: dock") == 4, output


def _extra_requirements(wheel: Path, extra: str, names: tuple[str, ...]) -> list[str]:
    """The requirements of `extra` on the packages `names`, from the wheel's metadata."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    found = []
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
            marker = requirement.marker
            if requirement.name in names and marker and marker.evaluate({"extra": extra}):
                requirement.marker = None
                found.append(str(requirement))
    return found
