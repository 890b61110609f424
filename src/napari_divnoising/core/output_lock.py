"""One run at a time per set of outputs: a lock file that says who holds it.

Two runs writing the same outputs (a second ``--overwrite`` run started while the first
still writes, two cluster jobs given the same name) would mix their planes under one
record. A run first creates ``<stem>_prediction.lock`` beside its outputs, exclusively
(``O_CREAT | O_EXCL``, atomic on local and NFS v3+ file systems), holding its process id,
host, start time and command; a second run reads it and says who holds the outputs. The
lock is removed when the run ends, however it ends (Stop, Ctrl-C, an error). A run that was
killed leaves its lock behind: on the same host, a lock whose process is gone (or whose
process id now belongs to a later process) is stale and taken over; a lock from another
host cannot be checked from here, and the message says how to remove it.

Only outputs of the same name exclude each other: many jobs may write different inputs'
results into one folder at once (a cluster's array job).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = ["check_unlocked", "holding_lock", "lock_path"]

#: Suffix of a lock file, after the outputs' name.
LOCK_SUFFIX = "_prediction.lock"


def lock_path(folder: str | os.PathLike, stem: str) -> Path:
    """Return the lock file of the outputs named `stem` in `folder`."""
    return Path(folder) / f"{stem}{LOCK_SUFFIX}"


def _process_started(pid: int) -> float | None:
    """Return when process `pid` started (seconds since the epoch), None if it is gone."""
    import psutil  # small, and napari's own dependency

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:  # exists, but we may not look at it: alive
        return 0.0


def _this_process() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "process_started": _process_started(os.getpid()),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:3])[:200],
    }


def _holder(path: Path) -> dict[str, Any] | None:
    """Return the lock's content; {} for an unreadable lock; None for no lock."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        holder = json.loads(text)
    except ValueError:  # being written this instant, or damaged: someone made it
        return {}
    return holder if isinstance(holder, dict) else {}


def _is_stale(holder: dict[str, Any]) -> bool:
    """Whether the lock's process certainly ended: same host, and gone or replaced."""
    pid, started = holder.get("pid"), holder.get("process_started")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    now = _process_started(pid)
    if now is None:
        return True
    # A recycled process id: the process there now started after the lock's owner.
    return isinstance(started, float | int) and now > 0 and abs(now - started) > 1.0


def _describe(path: Path, holder: dict[str, Any]) -> str:
    who = (
        f"pid {holder.get('pid')} on host {holder.get('host')!r} since {holder.get('since')}"
        f" ({holder.get('command')})"
        if holder
        else "another run (its lock file is being written or is unreadable)"
    )
    return (
        f"the outputs in {path.parent} named {path.name[: -len(LOCK_SUFFIX)]!r} are being "
        f"written by {who}; nothing was changed — wait for that run to end, or give "
        f"another output folder or name. If that run no longer exists (its machine "
        f"crashed), delete {path}"
    )


def check_unlocked(folder: str | os.PathLike, stem: str) -> None:
    """Raise if a live run holds the outputs named `stem` in `folder` (a stale lock passes).

    Raises
    ------
    OutputError
        Naming the process, host and time that hold them.
    """
    path = lock_path(folder, stem)
    holder = _holder(path)
    if holder is not None and not _is_stale(holder):
        raise OutputError(_describe(path, holder))


@contextlib.contextmanager
def holding_lock(folder: str | os.PathLike, stem: str) -> Iterator[Path]:
    """Hold the lock of the outputs named `stem` in `folder` while the block runs.

    The folder must exist. A stale lock (see the module's description) is taken over.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputError
        If another live run holds the lock.
    """
    path = lock_path(folder, stem)
    me = _this_process()
    for _ in range(3):  # a stale lock removed, or a race lost to another taker: try again
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and not _is_stale(holder):
                raise OutputError(_describe(path, holder)) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        except OSError as err:  # no permission, no space for one more file
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from err
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(me, file)
        except OSError as err:  # a full disk: no lock, and no empty lock file left behind
            path.unlink(missing_ok=True)
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from err
        break
    else:
        raise OutputError(_describe(path, _holder(path) or {}))
    try:
        yield path
    finally:
        if _holder(path) == me:  # never remove a lock another run took over
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
