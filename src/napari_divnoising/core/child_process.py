"""Blocking library calls that a user must be able to stop within a second.

Some steps spend seconds inside one call that cannot be interrupted (BM3D denoises a
512×512 plane in about 8 s, in compiled code). :class:`ChildProcess` runs such calls in one
child Python process and waits for each in short slices, yielding between them, so that a
generator built on it reaches a yield — where its consumer can stop it — several times a
second. Closing the generator (Stop in a dock, Ctrl-C on the command line) leaves the
``with`` block with an exception, which kills the child at once; a normal exit closes it.

The child is a fresh interpreter running this module, fed pickled calls on its standard
input. Unlike :mod:`multiprocessing`'s "spawn", it never re-runs the caller's ``__main__``:
a user's script without an ``if __name__ == "__main__"`` guard is safe. It is not started
with ``python -m``, which puts the working folder first on ``sys.path``: a ``bm3d.py`` or
``numpy.py`` lying in the user's folder would be imported instead of the installed package
and run as our code. The child drops that entry before it imports anything, so only what
the parent could import (installed packages, ``PYTHONPATH``) is importable there.
"""

from __future__ import annotations

import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["POLL_S", "ChildProcess"]

#: Longest wait between two yields while a call runs, in seconds.
POLL_S = 0.2
#: The child's program. ``python -c`` puts the working folder first on ``sys.path`` (as
#: ``-m`` does); it goes before the first import. (``-I`` would also drop PYTHONPATH and the
#: user's site-packages, where the package itself may be installed; ``-P`` needs 3.11.)
_CHILD_MAIN = (  # the entry is "" (unless PYTHONSAFEPATH left it out already)
    "import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; "
    f"from {__name__} import _serve; _serve()"
)


class ChildProcess:
    """One child process, started on first use; a context manager."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._replies: queue.Queue = queue.Queue()

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if kind is None:
            process.stdin.close()  # the child ends when its input does
            process.wait(timeout=10)
        else:  # stopped or failed: do not wait for the call in flight
            process.kill()
            process.wait()

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        # Replies are read on a thread, so that waiting for one can time out.
        threading.Thread(target=_read_replies, args=(process, self._replies), daemon=True).start()
        return process

    def call(self, function: Callable[..., Any], *args: Any) -> Generator[None, None, Any]:
        """Run ``function(*args)`` in the child; yield every :data:`POLL_S`, return its value.

        `function` must be importable by name (a module-level function) and `args`
        picklable. An exception in the child is raised here.
        """
        if self._process is None:
            self._process = self._start()
        pickle.dump((function, args), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._process.stdin.flush()
        while True:
            try:
                ok, value = self._replies.get(timeout=POLL_S)
            except queue.Empty:
                yield
                continue
            if ok:
                return value
            raise value


def _read_replies(process: subprocess.Popen, replies: queue.Queue) -> None:
    while True:
        try:
            replies.put(pickle.load(process.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            replies.put((False, RuntimeError("the child process ended unexpectedly")))
            return


def _serve() -> None:
    """Answer pickled ``(function, args)`` calls from standard input until it closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            function, args = pickle.load(stdin)
        except EOFError:
            return
        try:
            reply = (True, function(*args))
        except Exception as error:  # reported to the caller, who raises it
            reply = (False, error)
        pickle.dump(reply, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


if __name__ == "__main__":
    _serve()
