"""The 8 rotations and flips of test-time augmentation, and their inverses."""

from __future__ import annotations

import numpy as np

__all__ = ["augment", "augmentations", "unaugment", "view_shapes"]


def augmentations(tta: bool) -> list[tuple[int, bool]]:
    """Return the (quarter turns, flip) of every augmentation: all 8, or the identity."""
    return [(turns, flip) for flip in (False, True) for turns in range(4)] if tta else [(0, False)]


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
