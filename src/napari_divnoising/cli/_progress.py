"""Progress bars and error translation shared by the command-line commands."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Generator, Iterator
from typing import TypeVar

from ..core.events import Progress

ResultT = TypeVar("ResultT")


class CommandError(Exception):
    """A user error the command line reports in one line, without a traceback."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's validation errors into :class:`CommandError`."""
    try:
        yield
    except (ValueError, OSError) as err:
        raise CommandError(str(err)) from err


def show_warnings_briefly() -> None:
    """Print warnings from our own code as one line each, as a microscopist reads them."""

    def _show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = _show


def drive(generator: Generator[object, None, ResultT], *, quiet: bool = False) -> ResultT:
    """Run a core generator to completion with a tqdm progress bar per stage.

    Parameters
    ----------
    generator : Generator
        A core generator yielding :class:`~napari_divnoising.core.events.Progress` (or
        richer events with ``stage``, ``step`` and ``total``).
    quiet : bool
        If True, show no progress bar.

    Returns
    -------
    object
        What the generator returned.
    """
    from tqdm.auto import tqdm

    bar = None
    stage = None
    try:
        while True:
            try:
                event = next(generator)
            except StopIteration as stop:
                return stop.value
            if quiet or not isinstance(event, Progress):
                continue
            if event.stage != stage:
                if bar is not None:
                    bar.close()
                stage = event.stage
                bar = tqdm(
                    total=event.total,
                    desc=event.stage,
                    file=sys.stderr,
                    leave=True,
                    mininterval=0.5 if sys.stderr.isatty() else 10.0,
                )
            if event.loss is not None:
                bar.set_postfix(loss=f"{event.loss:.4g}", refresh=False)
            # update() (not a refresh per event) keeps logs of non-interactive runs short.
            bar.update(event.step - bar.n)
    finally:
        if bar is not None:
            bar.close()
        generator.close()
