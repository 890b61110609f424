"""The 8 rotations and flips of test-time augmentation, and their inverses."""

from __future__ import annotations

import numpy as np

__all__ = [
    "augment",
    "augmentations",
    "kept_per_view",
    "samples_per_view",
    "unaugment",
    "view_shapes",
]


def augmentations(tta: bool) -> list[tuple[int, bool]]:
    """Return the (quarter turns, flip) of every augmentation: all 8, or the identity."""
    return [(turns, flip) for flip in (False, True) for turns in range(4)] if tta else [(0, False)]


def samples_per_view(n_samples: int, tta: bool, *, map_estimate: bool = False) -> list[int]:
    """Return how many posterior samples each augmentation draws, the identity first.

    With test-time augmentation the `n_samples` are spread over the 8 views (an eighth
    each, rounded up): the pooled MMSE costs what the plain one does, and averages out
    the network's preference for one orientation. A MAP estimate (the mode of one tile's
    samples) needs all `n_samples` in the identity view, which then draws them.

    Examples
    --------
    >>> samples_per_view(100, True)
    [13, 13, 13, 13, 13, 13, 13, 13]
    >>> samples_per_view(100, True, map_estimate=True)[:2], samples_per_view(100, False)
    ([100, 13], [100])
    """
    if not tta:
        return [n_samples]
    share = -(-n_samples // 8)
    return [max(share, n_samples if map_estimate else 0)] + [share] * 7


def kept_per_view(keep_samples: int, counts: list[int]) -> list[int]:
    """Return how many of each view's samples to keep: `keep_samples` spread over them.

    Examples
    --------
    >>> kept_per_view(10, [13] * 8), kept_per_view(5, [100])
    ([2, 2, 2, 2, 2, 0, 0, 0], [5])
    """
    each, left, kept = -(-keep_samples // len(counts)), keep_samples, []
    for count in counts:
        kept.append(min(each, count, left))
        left -= kept[-1]
    return kept


def view_shapes(stack_shape: tuple[int, ...], tta: bool) -> list[tuple[int, ...]]:
    """Return the plane shape each augmentation sees (turned by 90°: transposed)."""
    return [
        stack_shape[:0:-1] if turns % 2 else stack_shape[1:] for turns, _ in augmentations(tta)
    ]


def augment(plane: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """Turn `plane` by `turns` quarter turns, then flip it left-right if `flip`."""
    out = np.rot90(plane, turns, axes=(-2, -1))
    return np.ascontiguousarray(out[..., ::-1] if flip else out)


def unaugment(array: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """Undo :func:`augment` on `array`."""
    out = array[..., ::-1] if flip else array
    return np.ascontiguousarray(np.rot90(out, -turns, axes=(-2, -1)))
