"""The cosine decay shared by the training schedule and the noise-model fit."""

from __future__ import annotations

import math

__all__ = ["cosine_decay"]


def cosine_decay(fraction: float, *, final: float) -> float:
    """Return the factor of a cosine decay from 1 to `final`, `fraction` of the way through.

    Parameters
    ----------
    fraction : float
        Progress through the decay; clipped to [0, 1].
    final : float
        The factor at the end.

    Returns
    -------
    float
        ``final + (1 - final) · (1 + cos(π · fraction)) / 2``.

    Examples
    --------
    >>> cosine_decay(0.0, final=0.1), cosine_decay(1.0, final=0.1)
    (1.0, 0.1)
    """
    fraction = min(1.0, max(0.0, fraction))
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * fraction))
