"""Catalogue rows: faults from outside — Ctrl-C, kill -9, a full disk, odd paths, a race.

These run real processes where the fault needs one (a signal cannot be sent to a function
call). Every wait has a timeout, so a hung process fails the test instead of the run.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_divnoising.cli import main
from napari_divnoising.core.errors import ModelFileError
from napari_divnoising.core.model_files import load_noise_model
from napari_divnoising.core.model_files.bundle import load_model, save_model

from ..waiting import EVENT_WAIT_S
from .conftest import refused

TINY = ["--max-epochs", "1", "--patch-size", "32", "--batch-size", "4", "--quiet"]
#: Seconds any single wait on a child process may take before the test fails: every wait
#: ends on its event (a line, an exit), so this only catches a hang, also on a busy machine.
WAIT_S = EVENT_WAIT_S
PARTIAL = ".partial"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and mounts")


def _cli() -> list[str]:
    """The ``divnoising`` command as the user runs it (the venv's entry point)."""
    script = Path(sys.executable).with_name("divnoising")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "napari_divnoising.cli"]


def _hearing_ctrl_c(argv: list[str]) -> list[str]:
    """`argv`, started with Ctrl-C's default disposition, as from a terminal.

    A shell that runs the suite in the background (``make test &``, ``nohup``) starts its
    children with SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the
    test would press Ctrl-C in a process that cannot hear it. A signal's handler is reset by
    ``exec`` but an ignored signal stays ignored, so a small shim restores the default first.
    """
    shim = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", shim, *argv]


def _child_env() -> dict[str, str]:
    # One thread per child: the machine is shared, and several children run at once.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Streams:
    """Drain a child's stdout and stderr on threads, so reading can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(stream, store, feed), daemon=True)
            for stream, store, feed in (
                (process.stdout, self.stdout, False),
                (process.stderr, self.stderr, True),
            )
        ]
        for thread in self._threads:
            thread.start()

    def _drain(self, stream, store: list[str], feed: bool) -> None:
        for line in iter(stream.readline, ""):
            store.append(line)
            if feed:
                self.lines.put(line)

    def wait_for_stderr(self, predicate, timeout: float) -> str:
        """Return the first stderr line for which `predicate` holds; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            if predicate(line):
                return line
        pytest.fail(f"no such line on stderr within {timeout} s; stderr: {self.text()[-2000:]}")

    def finish(self, timeout: float) -> int:
        status = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=timeout)
        return status

    def text(self) -> str:
        return "".join(self.stderr)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a child started with ``start_new_session`` and everything it forked."""
    if process.poll() is None:  # still running: the group is certainly ours
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _is_epoch_line(line: str) -> bool:
    # tqdm clears its bar with "\r" and spaces before a message line.
    parts = line.split("\r")
    return any(part.strip().startswith("epoch ") and " train " in part for part in parts)


# --- Ctrl-C -------------------------------------------------------------------------------


#: Ctrl-C, and what `timeout`, SLURM and Kubernetes (SIGTERM) or a closed terminal (SIGHUP)
#: send: each must keep the training done so far, not only Ctrl-C.
_STOPS = {"SIGINT": "interrupted", "SIGTERM": "stopped by SIGTERM", "SIGHUP": "stopped by SIGHUP"}


@pytest.mark.parametrize("stop", sorted(_STOPS))
def test_ctrl_c_during_training_keeps_a_loadable_best_model(workspace, tmp_path, stop):
    out = tmp_path / "run" / "interrupted.divnoising"
    out.parent.mkdir()
    argv = [*_cli(), "train", str(workspace.noisy), "--noise-model", str(workspace.noise_model),
            "--out", str(out), "--max-epochs", "1000", "--patience", "1000",
            "--patch-size", "32", "--batch-size", "4", "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen(
        _hearing_ctrl_c(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_child_env(),
        start_new_session=True,  # the signal goes to this child only, as Ctrl-C would
    )
    streams = _Streams(process)
    try:
        streams.wait_for_stderr(_is_epoch_line, timeout=WAIT_S)
        process.send_signal(getattr(signal, stop))
        status = streams.finish(timeout=WAIT_S)
    finally:
        _kill_group(process)
    stderr, stdout = streams.text(), "".join(streams.stdout)
    # Observed: exit status 0 — Ctrl-C ends training, not the command: the best model so far
    # is saved (as the --help promises), which is a success the user asked for.
    assert status == 0, f"exit status {status}; stderr: {stderr[-2000:]}"
    assert f"{_STOPS[stop]}: keeping the best model so far" in stderr
    assert "Traceback" not in stderr
    assert f"saved model to {out}" in stdout
    model = load_model(out)
    assert len(model.history) >= 1
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


# --- kill -9 during a save -------------------------------------------------------------------

_SAVE_FOREVER = textwrap.dedent(
    """
    # Load a model once, then for each target read from stdin fork a child that saves
    # the model there in a loop until it is killed; report the child's pid and its end.
    import os, sys
    import torch
    torch.set_num_threads(1)
    from napari_divnoising.core.model_files.bundle import load_model, save_model

    model = load_model(sys.argv[1])
    print("ready", flush=True)
    while line := sys.stdin.readline():
        pid = os.fork()
        if pid == 0:
            target = line.strip()
            while True:
                save_model(model, target)
        print(f"child {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"ended {status}", flush=True)
    """
)


def _files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


class _SaveForever:
    """The helper process: each :meth:`kill_after` forks a child that saves the model
    in a loop, and SIGKILLs it after the delay (fork: no second start-up per kill)."""

    def __init__(self, tmp_path: Path, model: Path) -> None:
        script = tmp_path / "save_forever.py"
        script.write_text(_SAVE_FOREVER, encoding="utf-8")
        self._log = tmp_path / "save_forever.log"
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(script), str(model)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=_child_env(),
                start_new_session=True,
            )
        self._replies: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [
                self._replies.put(line) for line in iter(self.process.stdout.readline, "")
            ],
            daemon=True,
        ).start()
        self._child: int | None = None

    def wait_until_ready(self) -> None:
        self._reply("ready")

    def _reply(self, prefix: str) -> str:
        try:
            line = self._replies.get(timeout=WAIT_S)
        except queue.Empty:
            line = f"nothing within {WAIT_S} s"
        log = self._log.read_text(errors="replace")[-2000:]
        assert line.startswith(prefix), f"helper said {line!r}; its stderr: {log}"
        return line.split()[-1]

    def kill_after(self, target: Path, delay: float) -> None:
        self.process.stdin.write(f"{target}\n")
        self.process.stdin.flush()
        self._child = int(self._reply("child"))
        time.sleep(delay)
        os.kill(self._child, signal.SIGKILL)
        assert int(self._reply("ended")) & 0x7F == signal.SIGKILL
        self._child = None

    def close(self) -> None:
        if self._child is not None:  # a saving child the helper has not reaped yet
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._child, signal.SIGKILL)
        _kill_group(self.process)


def test_kill_9_during_a_save_leaves_the_previous_bundle_loadable(workspace, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    target = folder / "model.divnoising"
    shutil.copy(workspace.model, target)
    # The user's other files beside the model: nothing may touch them.
    bystanders = {
        "other.divnoising": workspace.model.read_bytes(),
        "model.divnoising.bak": workspace.model.read_bytes(),
        "notes.txt": b"trained on Tuesday\n",
    }
    for name, content in bystanders.items():
        (folder / name).write_bytes(content)
    rng = random.Random(20240611)
    delays = [base + rng.uniform(0.0, 0.05) for base in (0.05, 0.2, 0.5, 1.0)]
    delays += [rng.uniform(0.0, 0.3) for _ in range(2)]
    rng.shuffle(delays)

    stale: set[str] = set()
    helper = _SaveForever(tmp_path, workspace.model)
    try:
        helper.wait_until_ready()
        for delay in delays:
            helper.kill_after(target, delay)
            model = load_model(target)  # the previous bundle (or a complete newer one)
            assert len(model.history) >= 1
            left = _files(folder) - {target.name, *bystanders}
            unmarked = [n for n in left if not (n.startswith(f".{target.name}.") and PARTIAL in n)]
            assert not unmarked, f"unmarked files left after kill -9: {unmarked}"
            stale |= left
    finally:
        helper.close()

    # A stale partial file (expected: kill -9 leaves no chance to remove it) is never taken
    # for the model: hidden, marked .partial, not the target, and refused if read as one.
    assert load_model(target).history
    for name in stale:
        with contextlib.suppress(ModelFileError):
            load_model(folder / name)
    # A later save succeeds and touches nothing of the user's.
    save_model(load_model(workspace.model), target)
    assert load_model(target).history
    for name, content in bystanders.items():
        assert (folder / name).read_bytes() == content, f"{name} was changed"
    assert _files(folder) - {target.name, *bystanders} <= stale


# --- a full disk -----------------------------------------------------------------------------


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_written(first_bytes: bytes):
    """A writer that writes the first bytes of its file, then finds the disk full."""

    def write(file, *_args, **_kwargs):
        if isinstance(file, (str, os.PathLike)):
            Path(file).write_bytes(first_bytes)
        else:
            file.write(first_bytes)
        _enospc()

    return write


class FullDisk:
    """An empty output folder on a full disk: a real one (a filled 64 KiB tmpfs) where this
    machine lets the tests mount one, else a disk whose writers fail half-way (patched)."""

    def __init__(self, folder: Path, monkeypatch, *, real: bool) -> None:
        self.folder, self.real, self._monkeypatch = folder, real, monkeypatch

    def fill_for(self, command: str) -> None:
        """Make the disk full for what `command` writes (a no-op on the real full disk)."""
        if self.real:
            return
        patch = self._monkeypatch.setattr
        if command == "fit-noise-model":
            patch(np, "savez", _half_written(b"PK\x03\x04" + bytes(512)))
        elif command == "train":
            # The noise model is already in the bundle's zip; the weights do not fit.
            patch(zipfile.ZipFile, "writestr", _enospc)
        else:
            patch(tifffile, "imwrite", _half_written(b"II*\x00" + bytes(512)))


def _mount_tmpfs(disk: Path) -> str | None:
    """Mount a 64 KiB tmpfs on `disk`; return why not, or None."""
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
            capture_output=True,
            timeout=WAIT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    return mounted.stderr.decode(errors="replace") if mounted.returncode else None


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    disk = tmp_path / "disk"
    disk.mkdir()
    if _mount_tmpfs(disk) is not None:
        (disk / "out").mkdir()
        yield FullDisk(disk / "out", monkeypatch, real=False)
        return
    try:
        (disk / "out").mkdir()
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(filler, bytes(4096)):
                pass
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(filler)
        yield FullDisk(disk / "out", monkeypatch, real=True)
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True, timeout=WAIT_S).returncode:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=WAIT_S)


def _argv_writing_into(command: str, workspace, out_dir: Path) -> list:
    if command == "fit-noise-model":
        return ["fit-noise-model", "--calibration", workspace.calibration, "--iterations", "2",
                "--quiet", "--out", out_dir / "nm.npz"]  # fmt: skip
    if command == "train":
        return ["train", workspace.noisy, "--noise-model", workspace.noise_model, *TINY,
                "--device", "cpu", "--out", out_dir / "m.divnoising"]  # fmt: skip
    return ["predict", workspace.model, workspace.first_frame, "--samples", "2", "--quiet",
            "--device", "cpu", "--out", out_dir]  # fmt: skip


@pytest.mark.parametrize("command", ["fit-noise-model", "train", "predict"])
def test_a_full_disk_leaves_no_partial_file_and_a_clear_message(
    workspace, capsys, full_disk, command
):
    full_disk.fill_for(command)
    reason = refused(capsys, _argv_writing_into(command, workspace, full_disk.folder))
    assert "No space left on device" in reason
    assert list(full_disk.folder.iterdir()) == [], "a partial file was left on the full disk"


def test_a_full_disk_message_names_the_file_that_could_not_be_written(
    workspace, capsys, full_disk
):
    full_disk.fill_for("predict")
    reason = refused(capsys, _argv_writing_into("predict", workspace, full_disk.folder))
    # The first file of the run that does not fit: on a really full disk, the outputs' lock.
    assert "frame0_mmse.tif" in reason or "frame0_prediction.lock" in reason
    assert "No space left on device" in reason


# --- odd paths, read-only inputs, a race ---------------------------------------------------


def test_a_path_with_spaces_and_umlauts_works(workspace, capsys):
    image = workspace.path("My Data/Zellkern ü.tif")
    image.parent.mkdir()
    shutil.copy(workspace.first_frame, image)
    out = workspace.path("Ergebnisse für Zellkern")
    argv = ["predict", workspace.model, image, "--samples", "2", "--quiet", "--device", "cpu"]
    assert main([str(part) for part in [*argv, "--out", out]]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    mmse = out / "Zellkern ü_mmse.tif"
    assert f"wrote {mmse}" in captured.out
    assert tifffile.imread(mmse).shape == tifffile.imread(image).shape
    assert sorted(p.name for p in out.iterdir()) == ["Zellkern ü_mmse.tif",
                                                     "Zellkern ü_prediction.json",
                                                     "Zellkern ü_restored.tif"]  # fmt: skip


def test_inputs_in_a_read_only_folder_work_and_stay_unchanged(workspace, capsys):
    locked = workspace.path("read-only inputs")
    locked.mkdir()
    image = locked / "frame0.tif"
    shutil.copy(workspace.first_frame, image)
    model = locked / "model.divnoising"
    shutil.copy(workspace.model, model)
    before = {path.name: _digest(path) for path in locked.iterdir()}
    out = workspace.path("out")
    argv = ["predict", model, image, "--samples", "2", "--quiet", "--device", "cpu", "--out", out]
    locked.chmod(0o555)
    try:
        # As root the mode is not enforced; the listing below still shows that nothing
        # was written beside the inputs.
        status = main([str(part) for part in argv])
    finally:
        locked.chmod(0o755)
    captured = capsys.readouterr()
    assert status == 0, captured.err[-2000:]
    assert {path.name: _digest(path) for path in locked.iterdir()} == before
    written = sorted(p.name for p in out.iterdir())
    assert written == ["frame0_mmse.tif", "frame0_prediction.json", "frame0_restored.tif"]


def test_training_into_a_new_folder_saves_the_model(workspace, capsys):
    out = workspace.path("new folder/m.divnoising")
    argv = ["train", workspace.noisy, "--noise-model", workspace.noise_model, *TINY,
            "--device", "cpu", "--out", out]  # fmt: skip
    status = main([str(part) for part in argv])
    assert status == 0, capsys.readouterr().err[-2000:]
    assert load_model(out).history


def test_two_processes_writing_the_same_noise_model_leave_one_complete_file(workspace, tmp_path):
    out = tmp_path / "shared" / "same.npz"
    out.parent.mkdir()
    argv = [*_cli(), "fit-noise-model", "--calibration", str(workspace.calibration),
            "--iterations", "3", "--quiet", "--overwrite", "--out", str(out)]  # fmt: skip
    processes = [
        subprocess.Popen(
            [*argv, "--seed", str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
            start_new_session=True,
        )
        for seed in (0, 1)
    ]
    try:
        results = [process.communicate(timeout=WAIT_S) for process in processes]
    finally:
        for process in processes:
            _kill_group(process)
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr[-2000:]
        assert "Traceback" not in stderr
        assert f"saved gmm noise model to {out}" in stdout
    # One of the two models, whole: the later rename wins.
    model = load_noise_model(out)
    assert model.metadata["fit"]["seed"] in (0, 1)
    assert model.metadata["fit"]["n_iterations"] == 3
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
