"""Progress events yielded by the core's long-running generators.

Every long step in the core (fitting a noise model, bootstrapping, training, sampling)
is a generator that yields small frozen events and *returns* its result. The GUI runs
the generator in a napari thread worker, the command line drives it with a progress
bar and the tests simply iterate it. Stopping early is "stop iterating".
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Progress", "run_generator"]

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Progress:
    """One step of a long-running core operation.

    Attributes
    ----------
    stage : str
        What is being done, in words a user understands ("fitting noise model").
    step : int
        Steps completed so far (1-based once the first step is done).
    total : int
        Number of steps in this stage.
    loss : float or None
        The current value of the objective, where the stage has one.
    """

    stage: str
    step: int
    total: int
    loss: float | None = None

    @property
    def fraction(self) -> float:
        """Fraction of the stage completed, in [0, 1]."""
        return min(1.0, self.step / self.total) if self.total > 0 else 1.0


def run_generator(
    generator: Generator[object, None, ResultT],
    progress: Callable[[object], None] | None = None,
) -> ResultT:
    """Drive a core generator to completion and return its result.

    Parameters
    ----------
    generator : Generator
        A core generator that yields events and returns a result.
    progress : callable, optional
        Called with every event the generator yields.

    Returns
    -------
    object
        The value the generator returned.
    """
    while True:
        try:
            event = next(generator)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(event)
