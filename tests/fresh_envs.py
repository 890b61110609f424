"""Fresh virtual environments for the tests that install this package as a user does.

The wheel, each extra alone, the validators of bioimage.io and of ``CITATION.cff`` each get a
virtual environment of their own, cached under ``~/.cache/napari-divnoising-test-envs`` (or
``$NAPARI_DIVNOISING_TEST_ENVS``) in a folder named after the hash of the requirements in
``pyproject.toml`` and the Python version (an edit of a classifier rebuilds nothing). An
environment is rebuilt when it is older than a week, so that new releases on PyPI are met
within a week; folders of other hashes are removed. Sessions of the
suite may run side by side: file locks keep one from rebuilding what another uses. PyPI must
be reachable: without it the tests fail and say so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The CPU build of PyTorch, installed first (the Makefile's and tox's TORCH): a plain
#: "torch" requirement would pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"
#: Environments older than this are rebuilt, so that they meet PyPI's new releases.
MAX_AGE_S = 7 * 24 * 3600
#: Said when pip fails: a network error in its output is the usual cause.
PYPI = (
    "\nThese tests need PyPI (build requirements, the environments, the newest releases): "
    "check that pip can reach it."
)


class Budget:
    """The seconds left to the whole module: every command it runs shares them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"the checks ran past their budget of {self.seconds:.0f} s")
        return left


@pytest.fixture(scope="module")
def budget(request) -> Budget:
    """The seconds the test module may take: its ``BUDGET_S``."""
    return Budget(request.module.BUDGET_S)


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
            f"{what} ran past the checks' budget of {budget.seconds:.0f} s: "
            f"{' '.join(command)}\n{output[-6000:]}"
        )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-6000:]
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n{output}{hint}")
    return done.stdout + done.stderr


def pip_install(env: Path, *requirements: str, budget: Budget, options: tuple = ()) -> None:
    """Install `requirements` into `env` from PyPI; fail with a clear message if pip cannot."""
    run(
        [python_of(env), "-m", "pip", "install", "--quiet", *options, *requirements],
        what=f"pip install {' '.join(requirements)}",
        budget=budget,
        hint=PYPI,
    )


@pytest.fixture(scope="module")
def cache() -> Iterator[Path]:
    """This pyproject's folder of environments; the folders of other hashes not in use go."""
    if sys.platform == "win32":  # POSIX file locks and bin/ layouts; Linux CI runs these
        pytest.skip("fresh environments are built on Linux and macOS only")
    root = Path(
        os.environ.get("NAPARI_DIVNOISING_TEST_ENVS")
        or Path.home() / ".cache" / "napari-divnoising-test-envs"
    )
    digest = hashlib.sha256(_requirements_text().encode())
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
    import fcntl  # POSIX only: imported here so that the suite still loads on Windows

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


def _requirements_text() -> str:
    """What pip resolves from pyproject.toml: the build system and the project's requirements."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: pytest brings tomli there
        import tomli as tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    return repr(
        (
            pyproject["build-system"],
            project.get("requires-python"),
            project.get("dependencies"),
            project.get("optional-dependencies"),
        )
    )


def python_of(env: Path) -> Path:
    """The python of the virtual environment `env`."""
    return env / "bin" / "python"


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
