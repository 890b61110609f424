"""Training data: planes, the train/validation split, random patches and augmentation.

Images are 2D or stacks whose leading axes (time, depth, samples) are independent 2D
planes. The split is made by planes (never by shuffling the caller's array: only indices
are permuted); a single plane is split into two strips. Training patches are random crops
with one of the 8 rotations/flips; validation patches are a fixed grid of crops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from ..model.config import TrainingConfig
from .lazy_planes import plane_statistics, prepare_planes

__all__ = [
    "DataSplit",
    "PatchSampler",
    "TrainingData",
    "grid_patches",
    "prepare_planes",
    "prepare_training_data",
    "split_planes",
]


@dataclass(frozen=True)
class DataSplit:
    """Training and validation planes.

    Attributes
    ----------
    train, validation : list of ndarray
        2D float32 planes.
    validation_is_training : bool
        True when nothing could be held out (validation reuses the training planes).
    """

    train: list[np.ndarray]
    validation: list[np.ndarray]
    validation_is_training: bool


def split_planes(
    planes: list[np.ndarray], *, train_fraction: float, patch_size: int, rng: np.random.Generator
) -> DataSplit:
    """Hold out a fraction of the planes (or of a single plane) for validation.

    With several planes, ``round(n · (1 − train_fraction))`` of them (at least one, and
    leaving at least one for training) are chosen at random for validation. A single plane
    is cut along its longer side into a training and a validation strip, when both can hold
    a patch; otherwise, or when `train_fraction` is 1, validation reuses the training data.
    """
    if train_fraction >= 1.0:
        return DataSplit(list(planes), list(planes), validation_is_training=True)
    n_planes = len(planes)
    if n_planes >= 2:
        n_val = min(n_planes - 1, max(1, round(n_planes * (1.0 - train_fraction))))
        order = rng.permutation(n_planes)
        val_index = set(order[:n_val].tolist())
        train = [p for i, p in enumerate(planes) if i not in val_index]
        validation = [p for i, p in enumerate(planes) if i in val_index]
        return DataSplit(train, validation, validation_is_training=False)
    plane = np.asarray(planes[0])  # one plane: it fits in memory
    axis = 0 if plane.shape[0] >= plane.shape[1] else 1
    length = plane.shape[axis]
    n_val = max(patch_size, round(length * (1.0 - train_fraction)))
    if length - n_val < patch_size:
        return DataSplit([plane], [plane], validation_is_training=True)
    train, validation = np.split(plane, [length - n_val], axis=axis)
    return DataSplit([train], [validation], validation_is_training=False)


def _augment(patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # One of the 8 elements of the dihedral group per patch: k quarter turns, then a flip.
    turns = rng.integers(0, 4, size=len(patches))
    flips = rng.integers(0, 2, size=len(patches)).astype(bool)
    out = np.empty_like(patches)
    for index, (patch, k, flip) in enumerate(zip(patches, turns, flips, strict=True)):
        turned = np.rot90(patch, int(k))
        out[index] = turned[:, ::-1] if flip else turned
    return out


class PatchSampler:
    """Draw random square training patches from a list of planes.

    Planes are chosen with probability proportional to the number of patch positions they
    hold, so every pixel is about equally likely to be seen.

    Parameters
    ----------
    planes : list of ndarray
        2D planes, each at least `patch_size` on both sides.
    patch_size : int
        Side of the patches.
    augment : bool
        Apply a random rotation/flip (8 possibilities) to every patch.
    rng : numpy.random.Generator
        Source of all random choices.
    """

    def __init__(
        self,
        planes: list[np.ndarray],
        *,
        patch_size: int,
        augment: bool,
        rng: np.random.Generator,
    ) -> None:
        self.planes = planes
        self.patch_size = patch_size
        self.augment = augment
        self.rng = rng
        positions = np.array(
            [(p.shape[0] - patch_size + 1) * (p.shape[1] - patch_size + 1) for p in planes],
            dtype=np.float64,
        )
        self._weights = positions / positions.sum()

    def sample(self, n: int) -> np.ndarray:
        """Return `n` patches as a float32 array ``(n, 1, patch_size, patch_size)``."""
        size = self.patch_size
        which = self.rng.choice(len(self.planes), size=n, p=self._weights)
        patches = np.empty((n, size, size), dtype=np.float32)
        for index, plane_index in enumerate(which):
            plane = self.planes[plane_index]
            y = self.rng.integers(0, plane.shape[0] - size + 1)
            x = self.rng.integers(0, plane.shape[1] - size + 1)
            patches[index] = plane[y : y + size, x : x + size]
        if self.augment:
            patches = _augment(patches, self.rng)
        return patches[:, None]


def grid_patches(
    planes: list[np.ndarray], *, patch_size: int, max_patches: int, rng: np.random.Generator
) -> np.ndarray:
    """Cut fixed non-overlapping patches from `planes` (at most `max_patches`, chosen at random).

    Sides shorter than `patch_size` are padded by reflection.

    Returns
    -------
    ndarray of float32, shape (M, 1, patch_size, patch_size)
    """
    # Positions first, pixels only for the chosen patches: a lazy plane is read only if
    # one of its patches is kept.
    positions = [
        (index, y, x)
        for index, plane in enumerate(planes)
        for y in range(0, max(plane.shape[0], patch_size) - patch_size + 1, patch_size)
        for x in range(0, max(plane.shape[1], patch_size) - patch_size + 1, patch_size)
    ]
    chosen = sorted(rng.permutation(len(positions))[:max_patches])
    patches = np.empty((len(chosen), 1, patch_size, patch_size), np.float32)
    for row, position in enumerate(chosen):
        index, y, x = positions[position]
        plane = planes[index]
        pad = [(0, max(0, patch_size - s)) for s in plane.shape]
        if any(after for _, after in pad):
            plane = np.pad(plane, pad, mode="reflect" if min(plane.shape) > 1 else "edge")
        patches[row, 0] = plane[y : y + patch_size, x : x + patch_size]
    return patches


@dataclass(frozen=True)
class TrainingData:
    """Everything training needs from the images, prepared once before it starts.

    Attributes
    ----------
    split : DataSplit
        Training and validation planes.
    shapes : list of tuple
        Shapes of the input images (for provenance).
    value_range : tuple of float
        Smallest and largest pixel value (for the noise model's range check).
    data_mean, data_std : float
        Normalisation: over all planes, or the one given.
    validation_patches : ndarray, shape (M, 1, P, P)
        The fixed validation patches.
    steps_per_epoch : int
        Optimisation steps per epoch.
    """

    split: DataSplit
    shapes: list[tuple[int, ...]]
    value_range: tuple[float, float]
    data_mean: float
    data_std: float
    validation_patches: np.ndarray
    steps_per_epoch: int


def prepare_training_data(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    config: TrainingConfig,
    size_multiple: int,
    seed: int,
    normalization: tuple[float, float] | None = None,
) -> TrainingData:
    """Validate, split and normalise training images (see :class:`TrainingData`).

    Parameters
    ----------
    images : ndarray or sequence of ndarray
        The training images.
    config : TrainingConfig
        Patch size, batch size, train fraction, validation patches, steps per epoch.
    size_multiple : int
        The network's size multiple (the patch size must be a multiple of it).
    seed : int
        Seed of the split and of the choice of validation patches.
    normalization : tuple of float, optional
        ``(data_mean, data_std)`` to keep (when continuing training); computed otherwise.

    Returns
    -------
    TrainingData
    """
    if config.patch_size % size_multiple:
        raise SettingsError(
            f"`patch_size` must be a multiple of 2**depth = {size_multiple} "
            f"(got {config.patch_size})"
        )
    planes, shapes = prepare_planes(
        images, patch_size=config.patch_size, size_multiple=size_multiple
    )
    mean, variance, value_range = plane_statistics(planes)
    split = split_planes(
        planes,
        train_fraction=config.train_fraction,
        patch_size=config.patch_size,
        rng=np.random.default_rng([seed, 0]),
    )
    if normalization is None:
        normalization = (mean, math.sqrt(variance))
    pixels = sum(p.size for p in split.train)
    steps = config.steps_per_epoch or max(
        10, math.ceil(pixels / (config.batch_size * config.patch_size**2))
    )
    validation = grid_patches(
        split.validation,
        patch_size=config.patch_size,
        max_patches=config.validation_patches,
        rng=np.random.default_rng([seed, 2]),
    )
    return TrainingData(split, shapes, value_range, *normalization, validation, steps)
