"""Errors and warnings as napari notifications that say what to do; never a crash."""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from napari_divnoising.core.errors import DivNoisingError, settings_error_from

__all__ = [
    "describe_error",
    "form_labels",
    "guarded",
    "notify_error",
    "relay_warnings",
    "show_warning_to_user",
]

_LOG = logging.getLogger("napari_divnoising.widgets._workers")


def describe_error(error: BaseException, *, labels: dict[str, str] | None = None) -> str:
    """Turn an exception from the core into a notification that says what to do.

    Parameters
    ----------
    error : BaseException
        The exception a worker raised.
    labels : dict, optional
        Settings field -> what the dock calls it, so that a value out of range is named as
        the user sees it (``learning_rate`` -> ``'learning rate'``).

    Returns
    -------
    str
        One or two sentences for the user.
    """
    error = _as_settings_error(error, labels or {})
    text = str(error)
    if isinstance(error, MemoryError) or "out of memory" in text.lower():
        return (
            "Out of memory. Use a smaller tile size (sampling) or a smaller batch or patch "
            f"size (training), or close other programs. ({type(error).__name__}: {text})"
        )
    if isinstance(error, (DivNoisingError, OSError)):
        # The core's user errors already say what is wrong and what is allowed.
        return text
    return (
        f"{type(error).__name__}: {text}. This looks like a bug in napari-divnoising; "
        "the full traceback is in the log. Your layers are unchanged."
    )


def _as_settings_error(error: BaseException, labels: dict[str, str]) -> BaseException:
    """Turn a pydantic validation error into the one-line settings error the CLI prints."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return error
    names = {field: f"'{label}'" for field, label in labels.items()}
    for problem in error.errors():
        field = ".".join(str(part) for part in problem.get("loc", ()))
        names.setdefault(field, f"'{field.replace('_', ' ')}'")
    return settings_error_from(error, names=names)


def form_labels(widget: Any) -> dict[str, str]:
    """Map each settings field to its label in a dock's magicgui forms (nested ones too)."""
    labels: dict[str, str] = {}
    pending = list(getattr(widget, "_forms", []))
    while pending:
        item = pending.pop()
        if hasattr(item, "__iter__") and hasattr(item, "native"):  # a Container
            pending.extend(item)
        elif getattr(item, "name", "") and getattr(item, "label", ""):
            labels[item.name] = item.label
    return labels


def notify_error(error: BaseException, *, labels: dict[str, str] | None = None) -> None:
    """Log `error` and show it as a napari notification (call on the main thread)."""
    from napari.utils.notifications import show_error

    error = _as_settings_error(error, labels or {})
    if isinstance(error, DivNoisingError):
        # A refused input, fully described by its message: no traceback to keep alive.
        _LOG.warning("napari-divnoising: %s", error)
    else:
        _LOG.error("napari-divnoising: %s", error, exc_info=error)
    show_error(describe_error(error))


@contextlib.contextmanager
def relay_warnings() -> Iterator[None]:
    """Show the warnings raised inside the block as napari notifications.

    Used around the core calls made on the main thread before a worker starts (the
    worker relays its own warnings), so that a warning never aborts the handler.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        show_warning_to_user(warning.message, warning.category)


def show_warning_to_user(message: Warning | str, category: type[Warning]) -> None:
    """Show a warning as a notification if it is advice for the user, else only log it.

    Advice is a :class:`UserWarning` (the core's warnings about the data and settings).
    Libraries' housekeeping (deprecations, unclosed files, numerical runtime warnings) says
    nothing a microscopist can act on: it goes to the log, not into a toast.
    """
    from napari.utils.notifications import show_warning

    if issubclass(category, UserWarning):
        show_warning(str(message))
    else:
        _LOG.debug("napari-divnoising: %s: %s", category.__name__, message)


def guarded(handler: Callable[[Any], Any]) -> Callable[..., None]:
    """Wrap a widget method so that any error becomes a notification, never a crash.

    Validation errors raised before a worker starts land here: the user sees what to
    change, as a notification and on the dock's status line, and the widget stays as it
    was. Arguments that Qt signals pass (``checked``)
    are ignored.
    """

    @functools.wraps(handler)
    def wrapper(self: Any, *_: Any) -> None:
        try:
            handler(self)
        except Exception as error:  # everything reaches the user, nothing crashes napari
            labels = form_labels(self)
            notify_error(error, labels=labels)
            runner = getattr(self, "runner", None)
            if runner is not None and not runner.running:
                # Said in place too: a toast fades, the dock's own line stays.
                runner.status.setText(f"⚠ {describe_error(error, labels=labels)}")

    return wrapper
