"""Run one core generator at a time in a napari thread worker, with Run/Stop and progress.

:class:`JobRunner` is the strip at the bottom of every dock widget: a Run button, a Stop
button, a progress bar and a status line with the elapsed time and an estimate of the
time left. The generator runs in a napari thread worker; Stop asks it to quit at its next
yield. Errors become napari notifications that say what to do, and the buttons come back.

The elapsed time ticks on a timer, not only when the job reports; until the job reports a
first step, the bar is a busy indicator. Every end state resets the bar and leaves a
status that says how the job ended and what was kept.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator
from typing import Any

from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from napari_divnoising.core.events import Progress

from ._notify import (
    describe_error,
    guarded,
    notify_error,
    relay_warnings,
    show_warning_to_user,
)

__all__ = [
    "JobRunner",
    "describe_error",
    "format_seconds",
    "guarded",
    "notify_error",
    "relay_warnings",
]

#: How often the elapsed time is refreshed while a job runs (ms).
TICK_MS = 500


def format_seconds(seconds: float) -> str:
    """Format a duration as ``m:ss`` (or ``h:mm:ss``)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _quit_held_worker(holder: dict[str, Any], *_: Any) -> None:
    if holder["worker"] is not None:
        holder["worker"].quit()


class JobRunner(QWidget):
    """Run/Stop buttons, a progress bar and a status line for one job at a time.

    Parameters
    ----------
    run_text : str
        Label of the Run button ("Fit", "Train", ...).
    parent : QWidget, optional
        Parent widget.
    """

    #: Emitted on the main thread when a job has ended (returned, aborted or errored).
    job_finished = Signal()

    def __init__(self, run_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_button = QPushButton(run_text)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the running job at its next step; the status line says what is kept"
        )
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        self.worker: Any = None
        self._stage = ""
        self._stage_start = 0.0
        self._start = 0.0
        self._callbacks: tuple[Any, Any, Any] = (None, None, None)
        self._text = ""
        self._eta = ""
        self._holds = 0
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)
        # Outlives the C++ widget: when the widget is destroyed, its worker is told to quit.
        self._holder: dict[str, Any] = {"worker": None}
        self.destroyed.connect(functools.partial(_quit_held_worker, self._holder))

    @property
    def running(self) -> bool:
        """Whether a job is running now (or its results are still being shown)."""
        return self.worker is not None or self._holds > 0

    def finish_later(self) -> Callable[[], None]:
        """Keep the job "running" until the returned function is called.

        For results shown over several turns of the event loop (one layer per turn, so
        that the viewer never freezes): the Run button comes back when they all are.
        """
        self._holds += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._holds -= 1
                if not self.running:
                    self._idle()

        return release

    def start(
        self,
        job: Generator[Any, None, Any],
        *,
        on_event: Callable[[Any], None] | None = None,
        on_returned: Callable[[Any], None] | None = None,
        on_aborted: Callable[[], None] | None = None,
    ) -> Any:
        """Run `job` in a thread worker; return the worker.

        Parameters
        ----------
        job : Generator
            A core generator (already created, already validated).
        on_event : callable, optional
            Called on the main thread with every yielded event, after the progress bar
            has been updated for :class:`~napari_divnoising.core.events.Progress` events.
        on_returned : callable, optional
            Called on the main thread with the generator's return value.
        on_aborted : callable, optional
            Called on the main thread after Stop took effect; it may return the status
            to show, saying what was kept (default: "stopped: nothing kept").
        """
        from napari.qt.threading import create_worker
        from superqt.utils import GeneratorWorker

        if self.running:
            raise RuntimeError("a job is already running; stop it first")
        self._start = self._stage_start = time.monotonic()
        self._stage = ""
        self.set_progress(None, "starting…")

        def job_function() -> Generator[Any, None, Any]:
            return (yield from job)

        # superqt's plain GeneratorWorker and _ignore_errors: napari's subclass would post
        # the raw traceback as a notification and superqt would re-raise it on the main
        # thread, beside the readable notification from `notify_error`.
        worker = create_worker(
            job_function, _worker_class=GeneratorWorker, _ignore_errors=True, _start_thread=False
        )
        self._callbacks = (on_event, on_returned, on_aborted)
        # Only bound methods of this QObject: Qt drops these connections when the widget
        # is deleted (dock or viewer closed), so a finishing worker never calls into it.
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.aborted.connect(self._on_aborted)
        worker.errored.connect(self._on_errored)
        worker.warned.connect(self._on_warned)
        worker.finished.connect(self._on_finished)
        self.worker = self._holder["worker"] = worker
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._ticker.start()
        worker.start()
        return worker

    def finish_in_turns(self, steps: list[Callable[[], Any]], done: str) -> None:
        """Run `steps` (adding result layers) one per turn of the event loop, then say `done`.

        Each layer napari adds costs tens of milliseconds; one per turn keeps the viewer
        responsive. The job counts as running until the last step.
        """
        from qtpy.QtCore import QTimer

        release = self.finish_later()
        pending = list(steps)

        def next_step() -> None:
            try:
                if pending:
                    pending.pop(0)()
                    QTimer.singleShot(0, next_step)
                    return
                self.status.setText(done)
            except Exception as error:  # e.g. a layer removed meanwhile: say so, stop
                notify_error(error)
            release()

        next_step()

    def stop(self) -> None:
        """Ask the running job to stop at its next step (no-op when idle)."""
        if self.worker is not None:
            self.stop_button.setEnabled(False)
            self._text, self._eta = f"{self._text} — stopping…", ""
            self._tick()
            self.worker.quit()

    def set_progress(self, fraction: float | None, text: str) -> None:
        """Show `fraction` and `text` with elapsed time and ETA.

        None, or a stage's first step (0), shows a busy indicator: the job is working on
        a step whose size it cannot tell yet.
        """
        now = time.monotonic()
        if fraction is None or fraction <= 0.0:
            self.progress_bar.setRange(0, 0)
            self._eta = ""
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(1000 * min(fraction, 1.0)))
            stage_elapsed = now - self._stage_start
            self._eta = (
                f" · ~{format_seconds(stage_elapsed * (1 - fraction) / fraction)} left"
                if fraction < 1.0 and stage_elapsed > 1.0
                else ""
            )
        self._text = text
        self._tick()

    def _tick(self) -> None:
        elapsed = format_seconds(time.monotonic() - self._start)
        self.status.setText(f"{self._text} · {elapsed} elapsed{self._eta}")

    def _end(self, text: str) -> None:
        """Leave the strip idle: the bar reset, the timer stopped, `text` as the status."""
        self._ticker.stop()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.status.setText(text)

    def _on_returned(self, result: Any) -> None:
        elapsed = format_seconds(time.monotonic() - self._start)
        self._end(f"done in {elapsed}")
        if self._callbacks[1] is not None:
            self._callbacks[1](result)

    def _on_aborted(self) -> None:
        kept = self._callbacks[2]() if self._callbacks[2] is not None else None
        self._end(kept or "stopped: nothing kept")

    def _on_yielded(self, event: Progress) -> None:
        if event.stage != self._stage:
            self._stage, self._stage_start = event.stage, time.monotonic()
        self.set_progress(event.fraction, event.status)
        if self._callbacks[0] is not None:
            self._callbacks[0](event)

    def _on_errored(self, error: BaseException) -> None:
        notify_error(error)
        self._end(f"Failed: {describe_error(error)}")

    def _on_warned(self, warning_args: tuple) -> None:
        # The arguments of warnings.showwarning: (message, category, filename, lineno, ...).
        message, category = warning_args[0], warning_args[1]
        show_warning_to_user(message, category)

    def _on_finished(self) -> None:
        self.worker = self._holder["worker"] = None
        self._callbacks = (None, None, None)
        if not self.running:
            self._idle()

    def _idle(self) -> None:
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self._ticker.stop()
        self.progress_bar.setRange(0, 1000)
        self.job_finished.emit()
