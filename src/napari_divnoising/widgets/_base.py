"""The base class of every dock widget: viewer, shared store, layer lists, clean shutdown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from ._store import store_for
from ._workers import JobRunner

if TYPE_CHECKING:
    import napari
    from magicgui.widgets import Container

__all__ = ["DockWidget"]


class DockWidget(QWidget):
    """A dock widget bound to one viewer, holding magicgui forms and job runners.

    Subclasses add their forms with :meth:`add_form` (so layer lists follow the viewer)
    and their Run/Stop strips with :meth:`add_runner` (so closing the dock stops the jobs);
    everything else goes into :attr:`body`, which scrolls: a dock taller than the screen
    (a laptop's 768 pixels) keeps every control within reach.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer the widget works on.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.store = store_for(viewer)
        self._forms: list[Container] = []
        self._runners: list[JobRunner] = []
        self._listeners: list[tuple[Any, Any]] = []
        self.hint = QLabel()
        self.hint.setVisible(False)
        self._chosen: dict[int, Any] = {}
        content = QWidget()
        #: The dock's column of controls, inside a scroll area.
        self.body = QVBoxLayout(content)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

    def add_guide(self, step: int, title: str, needs: str) -> QLabel:
        """Head the dock with its step of the four and what it needs from the others.

        Below the guide, :meth:`show_hint` says in place what is missing, with the fix.
        """
        guide = QLabel(f"<b>Step {step} of 4 · {title}</b><br>{needs}")
        guide.setWordWrap(True)
        self.body.addWidget(guide)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #e0a030;")
        self.body.addWidget(self.hint)
        return guide

    def show_hint(self, text: str) -> None:
        """Say what the dock lacks to run, and how to get it ("" when nothing is missing)."""
        self.hint.setText(f"⚠ {text}" if text else "")
        self.hint.setVisible(bool(text))

    def add_form(self, form: Container, *, layout: Any = None) -> Container:
        """Add a magicgui form to the widget and keep its layer choices up to date."""
        self._forms.append(form)
        (layout or self.body).addWidget(form.native)
        return form

    def add_runner(self, run_text: str, *, tooltip: str = "", layout: Any = None) -> JobRunner:
        """Add a Run/Stop strip with a progress bar; `tooltip` says what Run does."""
        runner = JobRunner(run_text)
        runner.run_button.setToolTip(tooltip)
        self._runners.append(runner)
        (layout or self.body).addWidget(runner)
        return runner

    def listen(self, signal: Any, slot: Any) -> None:
        """Connect `slot` to a signal outside this widget; disconnected on shutdown."""
        signal.connect(slot)
        self._listeners.append((signal, slot))

    def reset_choices(self, *_: Any) -> None:
        """Refresh every layer list (napari calls this when layers change)."""
        for form in self._forms:
            form.reset_choices()
        self.pick_defaults()

    def pick_defaults(self) -> None:
        """Choose sensible layers where the user has not chosen a suitable one (override)."""

    def choose(self, widget: Any, value: Any) -> None:
        """Set a layer list to `value` as a default, remembering that the dock chose it."""
        widget.value = value
        self._chosen[id(widget)] = value

    def user_chose(self, widget: Any) -> bool:
        """Whether the user changed `widget` since the dock last chose its value."""
        key = id(widget)
        return key in self._chosen and widget.value is not self._chosen[key]

    def shutdown(self) -> None:
        """Stop running jobs and listening to others; called when the dock closes."""
        for runner in self._runners:
            runner.stop()
        for signal, slot in self._listeners:
            signal.disconnect(slot)
        self._listeners.clear()

    def event(self, event: QEvent) -> bool:
        """Stop running jobs when napari takes the widget out of its dock."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None:
            self.shutdown()
        return super().event(event)

    def closeEvent(self, event: Any) -> None:
        """Stop running jobs when the widget is closed."""
        self.shutdown()
        super().closeEvent(event)
