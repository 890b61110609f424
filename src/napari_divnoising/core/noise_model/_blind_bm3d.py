"""One blind-spot BM3D pass of the bootstrap (see :mod:`.bootstrap`), picklable.

Module-level functions, so that :class:`~napari_divnoising.core.child_process.ChildProcess`
can run a pass in a child process.
"""

from __future__ import annotations

import numpy as np

from .poisson_gaussian import (
    PoissonGaussianParams,
    generalized_anscombe,
    inverse_generalized_anscombe,
)

__all__ = ["PASSES_PER_PLANE", "checkerboard_inputs", "vst_bm3d"]

PASSES_PER_PLANE = 2  # the two halves of the checkerboard


def checkerboard_inputs(plane: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the plane with each half of a checkerboard replaced by its 4-neighbour mean."""
    padded = np.pad(plane, 1, mode="reflect")
    neighbours = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]) / 4
    rows, columns = np.indices(plane.shape)
    inputs = []
    for phase in range(PASSES_PER_PLANE):
        hidden = (rows + columns) % 2 == phase
        inputs.append((np.where(hidden, neighbours, plane), hidden))
    return inputs


def vst_bm3d(image: np.ndarray, params: PoissonGaussianParams) -> np.ndarray:
    """Denoise `image`: generalized Anscombe transform, BM3D at σ = 1, unbiased inverse."""
    import bm3d  # heavy and only needed here

    denoised = bm3d.bm3d(generalized_anscombe(image, params), sigma_psd=1.0)
    return inverse_generalized_anscombe(denoised, params)
