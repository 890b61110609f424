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
def user_errors(flags: dict[str, str] | None = None) -> Iterator[None]:
    """Turn the core's user errors into :class:`CommandError`; bugs keep their traceback.

    Parameters
    ----------
    flags : dict, optional
        Settings field -> command-line flag, so that a bad value is named as the user
        typed it (``time_budget_minutes`` -> ``--time-budget``).
    """
    from pydantic import ValidationError

    from ..core.errors import DivNoisingError, settings_error_from

    try:
        yield
    except ValidationError as err:
        raise CommandError(str(settings_error_from(err, names=flags))) from err
    except (DivNoisingError, OSError) as err:
        raise CommandError(str(err)) from err


def show_warnings_briefly() -> None:
    """Print warnings from our own code as one line each, as a microscopist reads them."""

    def _show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = _show


_BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"


def drive(generator: Generator[Progress, None, ResultT], *, quiet: bool = False) -> ResultT:
    """Run a core generator to completion with a progress bar per stage.

    The bar follows each event's ``fraction`` and shows its ``status``; events with a
    ``message`` print it as a line above the bar.

    Parameters
    ----------
    generator : Generator
        A core generator yielding :class:`~napari_divnoising.core.events.Progress`.
    quiet : bool
        If True, show no progress bar and no messages.

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
            if quiet:
                continue
            if event.stage != stage:
                if bar is not None:
                    bar.close()
                stage = event.stage
                bar = tqdm(
                    total=1.0,
                    file=sys.stderr,
                    leave=True,
                    bar_format=_BAR_FORMAT,
                    mininterval=0.5 if sys.stderr.isatty() else 10.0,
                )
            if event.message:
                bar.write(event.message, file=sys.stderr)
            bar.set_description_str(event.status, refresh=False)
            # update() (not a refresh per event) keeps logs of non-interactive runs short.
            bar.update(event.fraction - bar.n)
    finally:
        if bar is not None:
            bar.close()
        generator.close()
