"""Each extra alone, in a fresh environment, as a user installs it from PyPI.

Our own environment has every extra at once, so one extra's pins can hide another's
breakage (the ``bigdata`` extra's ome-zarr-models caps pydantic below 2.13, which hid that
the ``bioimageio`` extra alone resolves a pydantic its bioimageio.spec cannot export with).
Here each extra gets a virtual environment of its own: ``torch==2.13.0`` first (the CPU
build), then the wheel built from this tree with that extra, then
``tests/extras/check_extra.py`` drives the installed ``divnoising`` command. The package that
the ``bioimageio`` check exports must also pass the newest released validators, each in an
environment of its own: ``bioimageio test`` of the newest bioimageio.core, and the format
validation of the newest bioimageio.spec.

The environments are cached under ``~/.cache/napari-divnoising-test-envs`` (or
``$NAPARI_DIVNOISING_TEST_ENVS``), in a folder named after the hash of ``pyproject.toml``
and the Python version; they are rebuilt when they are older than a week, so that new
releases on PyPI are met within a week; folders of other hashes are removed. Each run
reinstalls only this tree's wheel into them; those to build are built side by side. PyPI
must be reachable (the wheel's build, the environments, the newest releases): without it the
tests fail and say so. Measured on two cores shared with other work: cold (every environment
built) 3 min 20 s to 4 min 45 s, warm 1 to 2 min.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "extras"
#: The CPU build of PyTorch, installed first (the Makefile's and tox's TORCH): a plain
#: "torch" requirement would pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"
#: Seconds the whole module may take on a cold cache; the suite stays under ~15 minutes.
BUDGET_S = 480
#: Environments older than this are rebuilt, so that they meet PyPI's new releases.
MAX_AGE_S = 7 * 24 * 3600
#: The packages of an extra that the validators' environment takes over (bioimageio.spec
#: 0.5.12.0, pinned by the newest bioimageio.core, fails with pydantic >= 2.14).
VALIDATOR_CAPS = ("pydantic", "pydantic-core")
#: The extras with code paths of their own (``none``: the base install); the ``benchmarks``
#: extra only serves benchmarks/, which the package does not ship.
EXTRAS = ("none", "bigdata", "bioimageio")
#: Said when pip fails: a network error in its output is the usual cause.
PYPI = (
    "\nThese tests need PyPI (the wheel's build requirements, the environments, the newest "
    "validators): check that pip can reach it."
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUDGET_S)]


class Budget:
    """The seconds left to the whole module: every command it runs shares them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the extras checks ran past their budget of {self.seconds:.0f} s")
        return left


@pytest.fixture(scope="module")
def budget() -> Budget:
    return Budget(BUDGET_S)


def run(
    command: list[str | Path], *, what: str, budget: Budget, cwd: Path = ROOT, hint: str = ""
) -> str:
    """Run `command`; return its output, or fail the test with it, naming `what` failed."""
    command = [str(part) for part in command]
    # the environments are installed without byte code: their pythons write it, once
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=budget.left(),
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        output = _text(err.stdout) + _text(err.stderr)
        pytest.fail(
            f"{what} ran past the extras checks' budget of {budget.seconds:.0f} s: "
            f"{' '.join(command)}\n{output[-6000:]}"
        )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-6000:]
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n{output}{hint}")
    return done.stdout + done.stderr


def pip_install(env: Path, *requirements: str, budget: Budget, options: tuple = ()) -> None:
    """Install `requirements` into `env` from PyPI; fail with a clear message if pip cannot."""
    run(
        [_python(env), "-m", "pip", "install", "--quiet", *options, *requirements],
        what=f"pip install {' '.join(requirements)}",
        budget=budget,
        hint=PYPI,
    )


@pytest.fixture(scope="module")
def cache() -> Iterator[Path]:
    """This pyproject's folder of environments; the folders of other hashes not in use go."""
    root = Path(
        os.environ.get("NAPARI_DIVNOISING_TEST_ENVS")
        or Path.home() / ".cache" / "napari-divnoising-test-envs"
    )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    folder = root / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder / ".in-use", shared=True):  # other sessions of this hash share it
        for other in root.iterdir():
            if other != folder and other.is_dir():
                try:
                    with locked(other / ".in-use", wait=False):
                        shutil.rmtree(other, ignore_errors=True)
                except BlockingIOError:
                    pass  # a session of that hash is running
        yield folder


@contextmanager
def locked(path: Path, *, shared: bool = False, wait: bool = True) -> Iterator[None]:
    """Hold a lock on the file `path` (made if missing): exclusive unless `shared`.

    Sessions of the suite may run side by side on one machine: one builds or reinstalls an
    environment while no other uses it.
    """
    with path.open("a") as handle:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        fcntl.flock(handle, mode if wait else mode | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, budget) -> Path:
    """This tree's wheel, built as pip builds it (an isolated build)."""
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", ROOT, "-w", out]
    run(pip, what="building the wheel", budget=budget, hint=PYPI)
    (built,) = out.glob("napari_divnoising-*.whl")
    return built


def fresh_env(folder: Path, *steps: tuple[str, ...], budget: Budget) -> Path:
    """The environment `folder`, built by the pip install `steps` unless cached and recent."""
    ready = folder / ".ready"
    with locked(folder.with_name(f"{folder.name}.lock")):
        if ready.is_file() and time.time() - ready.stat().st_mtime < MAX_AGE_S:
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        python_m_venv = [sys.executable, "-m", "venv", folder]
        run(python_m_venv, what=f"python -m venv {folder}", budget=budget)
        for requirements in steps:
            # no byte-compiling of all of torch: the checks compile what they import, once
            pip_install(folder, *requirements, budget=budget, options=("--no-compile",))
        ready.touch()
    return folder


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
    script = [_python(env), SCRIPTS / "check_extra.py", extra, folder]
    return run(script, what=f"the check of the {extra} extra alone", budget=budget, cwd=folder)


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
        [_python(envs["validator-spec"].result()), SCRIPTS / "validate_with_spec.py", package],
        what="the newest bioimageio.spec's validation",
        budget=budget,
        cwd=tmp_path,
    )
    assert "valid-format" in output or "passed" in output


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


def _python(env: Path) -> Path:
    return env / "bin" / "python"


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
