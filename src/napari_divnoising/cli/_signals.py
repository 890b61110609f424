"""Stop signals from job schedulers, handled like Ctrl-C.

``timeout``, SLURM, Kubernetes and a closed terminal stop a program with SIGTERM or SIGHUP,
not SIGINT; left to their default, they end the process at once and a training run loses
everything. While a command runs, both raise :class:`Terminated`, a ``KeyboardInterrupt``,
so every path that keeps work after Ctrl-C (the best model so far, finished planes) keeps
it here too. A signal the caller chose to ignore (``nohup`` ignores SIGHUP) stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "stopping_like_ctrl_c"]

_SIGNALS = ("SIGTERM", "SIGHUP")


class Terminated(KeyboardInterrupt):
    """A stop signal other than Ctrl-C; `signal_name` says which (``"SIGTERM"``)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by the signal: 128 + its number."""
        return 128 + int(getattr(signal, self.signal_name))


@contextlib.contextmanager
def stopping_like_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated`.

    Only once: a second signal while the work is being kept is ignored, so that the save
    can finish.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (a command run from a worker thread)
        return
    received: list[str] = []

    def _raise(number: int, frame: object) -> None:
        name = signal.Signals(number).name
        if received:  # already stopping: let the work that keeps the results finish
            print(f"{name} received again: still saving, please wait", file=sys.stderr)
            return
        received.append(name)
        raise Terminated(name)

    previous = {}
    for name in _SIGNALS:
        number = getattr(signal, name, None)  # SIGHUP does not exist on Windows
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, _raise)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
