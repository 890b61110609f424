"""Errors and warnings as napari notifications that say what to do; never a crash."""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from napari_divnoising.core.errors import DivNoisingError

__all__ = ["describe_error", "guarded", "notify_error", "relay_warnings"]

_LOG = logging.getLogger("napari_divnoising.widgets._workers")


def describe_error(error: BaseException) -> str:
    """Turn an exception from the core into a notification that says what to do.

    Parameters
    ----------
    error : BaseException
        The exception a worker raised.

    Returns
    -------
    str
        One or two sentences for the user.
    """
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


def notify_error(error: BaseException) -> None:
    """Log `error` and show it as a napari notification (call on the main thread)."""
    from napari.utils.notifications import show_error

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
    from napari.utils.notifications import show_warning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        show_warning(str(warning.message))


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
            notify_error(error)
            runner = getattr(self, "runner", None)
            if runner is not None and not runner.running:
                # Said in place too: a toast fades, the dock's own line stays.
                runner.status.setText(f"⚠ {describe_error(error)}")

    return wrapper
