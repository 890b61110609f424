"""How the suite waits: for events, never against the machine's speed.

A test that needs something to happen (a child's line, a file, a job's end, a Qt signal)
waits for that event, up to :data:`EVENT_WAIT_S`. The wait ends as soon as the event comes,
so the limit costs nothing on a fast machine; it only turns a real hang into a failure with
a message that names what never came.

A test that promises a latency (Stop ends a job within a second, the event loop is never
blocked for 200 ms) scales its bound by :func:`slowdown`, measured in the same test on the
same machine: how much slower than its own CPU time the main thread runs right now. On an
idle machine it is about 1 and the promise is checked as made; on a machine whose cores
other jobs share, the bound grows with the share they take, and only a real stall fails.
"""

from __future__ import annotations

import time

__all__ = ["EVENT_WAIT_MS", "EVENT_WAIT_S", "slowdown"]

#: The longest any test waits for an event, in seconds: generous for a machine ten times
#: slower than a busy 2-core CI runner (the slowest event waited for, a first training epoch
#: in a child process, takes seconds there).
EVENT_WAIT_S = 600
#: :data:`EVENT_WAIT_S` in milliseconds, for ``qtbot.waitUntil``.
EVENT_WAIT_MS = 1000 * EVENT_WAIT_S


def slowdown(cpu_seconds: float = 0.2) -> float:
    """How much slower than its CPU time this thread runs now (1 on an idle machine).

    Spins for `cpu_seconds` of this thread's CPU time and divides the wall-clock time
    that took by it: other processes on the same cores, and other threads holding the
    GIL, stretch the wall clock but not the CPU time.

    Parameters
    ----------
    cpu_seconds : float
        CPU time to spin for; longer is steadier.

    Returns
    -------
    float
        Wall-clock seconds per CPU second, at least 1.
    """
    wall, cpu = time.perf_counter(), time.thread_time()
    while time.thread_time() - cpu < cpu_seconds:
        pass
    spent_cpu = time.thread_time() - cpu
    return max(1.0, (time.perf_counter() - wall) / spent_cpu)
