"""Stacks of any size: images read one plane at a time, and results written the same way.

:mod:`.opening` opens TIFF, ``.npy``, zarr / OME-Zarr stores and folders of images as lazy
``(N, Y, X)`` planes (:mod:`.stack`); :mod:`.zarr_store` writes results into OME-Zarr images
one plane at a time. The steps' own big-data parts build on them: training reads planes through
:mod:`napari_divnoising.core.training.lazy_planes`, prediction writes through
:mod:`napari_divnoising.core.prediction.to_zarr` (and :mod:`~.prediction.chunked`,
:mod:`~.prediction.cluster`).
"""

from __future__ import annotations

from .opening import is_zarr, open_source, open_stack
from .stack import Stack, StackSource, stack_from_array

__all__ = ["Stack", "StackSource", "is_zarr", "open_source", "open_stack", "stack_from_array"]
