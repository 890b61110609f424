"""The Run/Stop strip: progress, Stop, errors and warnings from a job, without a viewer."""

import threading
import time
import warnings

import pytest

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.events import Progress
from napari_divnoising.widgets._workers import JobRunner, describe_error, format_seconds

from ..waiting import EVENT_WAIT_MS, EVENT_WAIT_S
from .conftest import wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def runner(qtbot):
    runner = JobRunner("Run")
    qtbot.addWidget(runner)
    return runner


def counting(n, *, fail_at=None, warn_at=None, delay=0.0):
    for step in range(1, n + 1):
        if step == fail_at:
            raise InputError("the image is 5×5 pixels; at least 16×16 is needed")
        if step == warn_at:
            warnings.warn("intensities outside the noise model's range", UserWarning, stacklevel=1)
        time.sleep(delay)
        yield Progress("counting", step, n, loss=1.0 / step)
    return "done"


def test_progress_and_result_reach_the_main_thread(runner, qtbot):
    events, results = [], []
    runner.start(counting(5), on_event=events.append, on_returned=results.append)
    assert not runner.run_button.isEnabled() and runner.stop_button.isEnabled()
    wait_for(qtbot, runner)
    assert [event.step for event in events] == [1, 2, 3, 4, 5]
    assert results == ["done"]
    # The end state: the bar reset, the status saying how it ended.
    assert runner.progress_bar.value() == 0 and runner.progress_bar.maximum() == 1000
    assert runner.status.text().startswith("done in ")
    assert runner.run_button.isEnabled() and not runner.stop_button.isEnabled()


def test_the_status_reports_at_once_and_elapsed_time_ticks_between_events(runner, qtbot):
    ticked = threading.Event()

    def slow():
        # A first step that lasts until the elapsed time has ticked, however busy the machine.
        ticked.wait(EVENT_WAIT_S)
        yield Progress("counting", 1, 1)

    runner.start(slow())
    # Before any event: a busy indicator and the time already running.
    assert runner.progress_bar.maximum() == 0
    assert runner.status.text().startswith("starting… · 0:00 elapsed")
    try:
        qtbot.waitUntil(lambda: "0:01 elapsed" in runner.status.text(), timeout=EVENT_WAIT_MS)
    finally:
        ticked.set()
    wait_for(qtbot, runner)


def test_stop_says_what_was_kept(runner, qtbot):
    runner.start(counting(10_000, delay=0.01), on_aborted=lambda: "stopped: 3 things kept")
    qtbot.waitUntil(lambda: runner.progress_bar.value() > 0, timeout=EVENT_WAIT_MS)
    runner.stop_button.click()
    wait_for(qtbot, runner)
    assert runner.status.text() == "stopped: 3 things kept"
    assert runner.progress_bar.value() == 0
    runner.start(counting(10_000, delay=0.01))
    qtbot.waitUntil(lambda: runner.progress_bar.value() > 0, timeout=EVENT_WAIT_MS)
    runner.stop_button.click()
    wait_for(qtbot, runner)
    assert runner.status.text() == "stopped: nothing kept"


def test_stop_ends_the_job_at_its_next_step(runner, qtbot):
    aborted, results = [], []
    runner.start(
        counting(10_000, delay=0.01),
        on_returned=results.append,
        on_aborted=lambda: aborted.append(1),
    )
    qtbot.waitUntil(lambda: runner.progress_bar.value() > 0, timeout=EVENT_WAIT_MS)
    runner.stop_button.click()
    wait_for(qtbot, runner)
    assert aborted == [1]
    assert results == []


def test_an_error_in_the_job_is_a_notification(runner, qtbot, notifications):
    runner.start(counting(5, fail_at=3))
    wait_for(qtbot, runner)
    errors = [n for n in notifications if n.severity == "error"]
    assert [str(n.message) for n in errors] == [
        "the image is 5×5 pixels; at least 16×16 is needed"
    ]
    assert runner.status.text().startswith("Failed")
    assert runner.run_button.isEnabled()


def test_a_warning_in_the_job_is_a_notification(runner, qtbot, notifications):
    runner.start(counting(3, warn_at=2))
    wait_for(qtbot, runner)
    assert any("noise model's range" in str(n.message) for n in notifications)


def test_starting_twice_is_refused(runner, qtbot):
    runner.start(counting(10_000, delay=0.01))
    with pytest.raises(RuntimeError, match="already running"):
        runner.start(counting(1))
    runner.stop()
    wait_for(qtbot, runner)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "Out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "smaller tile size"),
        (ValueError("`patch_size` must be a multiple of 4 (got 30)"), "`patch_size` must be"),
        (KeyError("x"), "looks like a bug"),
    ],
)
def test_errors_are_described_for_users(error, expected):
    assert expected in describe_error(error)


def test_format_seconds():
    assert format_seconds(5) == "0:05"
    assert format_seconds(125.4) == "2:05"
    assert format_seconds(3725) == "1:02:05"
