"""Blocking library calls that a user must be able to stop within a second.

Some steps spend seconds inside one call that cannot be interrupted (BM3D denoises a
512×512 plane in about 10 s, in compiled code). :class:`ChildProcess` runs such calls in
one spawned child process and waits for each in short slices, yielding between them, so
that a generator built on it reaches a yield — where its consumer can stop it — several
times a second. Closing the generator (Stop in a dock, Ctrl-C on the command line) leaves
the ``with`` block with an exception, which terminates the child at once; a normal exit
lets it finish and closes it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["POLL_S", "ChildProcess"]

#: Longest wait between two yields while a call runs, in seconds.
POLL_S = 0.2


class ChildProcess:
    """One spawned worker process, started on first use; a context manager."""

    def __init__(self) -> None:
        self._pool: Any = None

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if self._pool is None:
            return
        if kind is None:
            self._pool.close()
        else:  # stopped or failed: do not wait for the call in flight
            self._pool.terminate()
        self._pool.join()
        self._pool = None

    def call(self, function: Callable[..., Any], *args: Any) -> Generator[None, None, Any]:
        """Run ``function(*args)`` in the child; yield every :data:`POLL_S`, return its value.

        `function` and `args` must be picklable (a module-level function, arrays). An
        exception in the child is raised here.
        """
        if self._pool is None:
            # "spawn": forking a process that runs Qt and torch threads is not safe.
            self._pool = multiprocessing.get_context("spawn").Pool(1)
        pending = self._pool.apply_async(function, args)
        while not pending.ready():
            pending.wait(POLL_S)
            yield
        return pending.get()
