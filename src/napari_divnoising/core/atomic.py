"""Files written atomically: a temporary file beside the target, then one rename.

Nothing the user already has is ever overwritten half-way. The rename is where operating
systems differ: on Windows it fails while another program holds the target open (Fiji, an
image viewer, a virus scanner looking at the new file for a moment), so it is retried for a
short while there, and the error says which file is held and why.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

__all__ = ["atomic_path"]

#: Whether renames meet Windows' rules (a module attribute, so tests can play Windows).
WINDOWS = os.name == "nt"
#: Windows' classic limit on a path's length, without the long-path setting.
WINDOWS_MAX_PATH = 260
#: Tries and the wait between them for a rename refused while the target is held open:
#: scanners and indexers hold a new file for well under a second.
RENAME_TRIES, RENAME_WAIT_S = 10, 0.1


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    If the body raises, the temporary file is removed and `path` is left untouched.

    Parameters
    ----------
    path : str or PathLike
        The final destination.

    Yields
    ------
    Path
        Where to write; it keeps the destination's suffix so writers that dispatch on
        it (numpy, tifffile) behave the same.

    Raises
    ------
    OutputError
        If the folder cannot be made, the file cannot be written, or the rename fails; the
        message names the file and the likely cause (a full disk, a file held open, a path
        too long for Windows).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=f".partial{target.suffix}", dir=target.parent
        )
    except OSError as err:  # a file where a folder should be, no permission, too long
        raise OutputError(f"cannot write {target}: {_reason(err, target)}") from err
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp creates the file private (0600); results get the user's usual mode.
        os.chmod(temporary_path, 0o666 & ~_umask())
        _flush_to_disk(temporary_path)
        _replace(temporary_path, target)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(f"cannot write {target}: {_reason(err, target)}") from err
    finally:
        temporary_path.unlink(missing_ok=True)


def _replace(source: Path, target: Path) -> None:
    """Rename `source` onto `target`; on Windows, wait a little for a program to let go."""
    for attempt in range(RENAME_TRIES):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if not WINDOWS or attempt == RENAME_TRIES - 1:
                raise
            time.sleep(RENAME_WAIT_S)


def _reason(err: OSError, target: Path) -> str:
    """Return the error in words, with its likely cause (an errno alone names no file)."""
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        return f"{reason} (is the disk full?)"
    if WINDOWS and isinstance(err, PermissionError) and target.exists():
        return f"{reason} (is {target.name} open in another program? close it and retry)"
    if WINDOWS and len(str(target.absolute())) + 30 >= WINDOWS_MAX_PATH:
        return (
            f"{reason} (the path is {len(str(target.absolute()))} characters long; Windows "
            f"allows {WINDOWS_MAX_PATH} unless long paths are enabled: choose a shorter folder)"
        )
    return reason


@functools.cache
def _umask() -> int:
    """Return the process's umask (read once: reading it sets it for an instant)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _flush_to_disk(path: Path) -> None:
    """Make the written bytes durable before the rename makes them visible."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
