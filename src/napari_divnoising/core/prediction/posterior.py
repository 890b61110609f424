"""Posterior sampling of one tile: encode once, decode latent draws in batches.

Private helpers of :mod:`.sampling`: the tile-independent latent noise, the running
moments of a tile, and the sampling loops of a tile and of a plane.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..events import Progress
from .mean_shift import mean_shift_mode
from .tiling import TileBlend, TileGrid, extract_tile

if TYPE_CHECKING:
    from .config import SamplingConfig

__all__ = [
    "MAP_PATCH_SIZE",
    "NOISE_BLOCK",
    "Moments",
    "SampleCount",
    "TileContext",
    "TileResult",
    "latent_noise",
    "sample_plane",
    "sample_tile",
]

#: Side of the square MAP patches (see :func:`.mean_shift.mean_shift_mode`).
MAP_PATCH_SIZE = 16
_STAGE = "sampling posterior"

#: Side (latent pixels) of the blocks of the global latent grid that share one noise seed.
NOISE_BLOCK = 32
_MASK64 = 2**64 - 1


def _mix(*values: int) -> int:
    """Hash integers into a 63-bit seed (splitmix64 finaliser, one round per value)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = ((state ^ (int(value) & _MASK64)) * 0xBF58476D1CE4E5B9) & _MASK64
        state ^= state >> 31
        state = (state * 0x94D049BB133111EB) & _MASK64
        state ^= state >> 29
    return state & (2**63 - 1)


def _generator(device: torch.device) -> torch.Generator:
    try:
        return torch.Generator(device=device)
    except RuntimeError:  # pragma: no cover - a backend without its own generators
        return torch.Generator()


def latent_noise(
    key: tuple[int, ...],
    samples: range,
    origin: tuple[int, int],
    shape: tuple[int, int, int],
    *,
    device: torch.device,
    generator: torch.Generator,
) -> torch.Tensor:
    """Draw standard normal noise ``(len(samples), *shape)`` for a latent window.

    Noise is drawn per :data:`NOISE_BLOCK` block of the global latent grid, seeded by
    ``(*key, sample, block row, block column)``, so a latent pixel gets the same value
    whatever window (tile) or batch it is drawn in.
    """
    channels, height, width = shape
    top, left = origin
    rows = range(top // NOISE_BLOCK, (top + height - 1) // NOISE_BLOCK + 1)
    cols = range(left // NOISE_BLOCK, (left + width - 1) // NOISE_BLOCK + 1)
    blocks = torch.empty(
        (len(rows), len(cols), channels, NOISE_BLOCK, NOISE_BLOCK), device=generator.device
    )
    y0, x0 = top - rows.start * NOISE_BLOCK, left - cols.start * NOISE_BLOCK
    out = torch.empty((len(samples), channels, height, width), device=device)
    for position, sample in enumerate(samples):
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                generator.manual_seed(_mix(*key, sample, row, col))
                torch.randn(blocks.shape[2:], generator=generator, out=blocks[i, j])
        # Few large copies rather than one per block: (rows, cols, C, B, B) → (C, Y, X).
        grid = blocks.permute(2, 0, 3, 1, 4).reshape(
            channels, len(rows) * NOISE_BLOCK, len(cols) * NOISE_BLOCK
        )
        out[position] = grid[:, y0 : y0 + height, x0 : x0 + width]
    return out


@dataclass(frozen=True)
class TileContext:
    """What every tile of a prediction shares."""

    network: nn.Module
    decode: Callable[[torch.Tensor], torch.Tensor]
    data_mean: float
    data_std: float
    device: torch.device
    seed: int


@dataclass(frozen=True)
class TileResult:
    """Statistics of one tile's samples (raw units, numpy float32)."""

    mean: np.ndarray
    variance: np.ndarray
    map: np.ndarray | None
    kept: np.ndarray | None


class Moments:
    """Running per-pixel mean and sum of squared deviations (Chan et al.'s update).

    Holds two tile-sized tensors, however many samples it has seen.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def update(self, batch: torch.Tensor) -> None:
        """Merge a batch of samples ``(b, H, W)``."""
        size = batch.shape[0]
        batch_mean = batch.mean(0)
        batch_m2 = (batch - batch_mean).square_().sum(0)
        if self.mean is None:
            self.count, self.mean, self.m2 = size, batch_mean, batch_m2
            return
        total = self.count + size
        delta = batch_mean - self.mean
        self.mean += delta * (size / total)
        self.m2 += batch_m2 + delta.square_() * (self.count * size / total)
        self.count = total

    @property
    def variance(self) -> torch.Tensor:
        """Population variance of the samples seen (``np.var`` with ``ddof=0``)."""
        return self.m2 / self.count


def sample_tile(
    pixels: np.ndarray,
    context: TileContext,
    *,
    origin: tuple[int, int],
    stream: tuple[int, int],
    n_samples: int,
    batch_size: int,
    keep: int,
    hold_all: bool,
    mode: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor] | None,
) -> Generator[int, None, TileResult]:
    """Sample one tile; yield the number of samples of each batch, return its statistics.

    Torch's inference mode and autocast are entered only between yields, so they never
    leak into the caller's code while the generator is suspended.
    """
    device = context.device
    multiple = int(context.network.size_multiple)
    latent_origin = (origin[0] // multiple, origin[1] // multiple)
    generator = _generator(device)
    with torch.inference_mode():
        x = torch.from_numpy((pixels - context.data_mean) / context.data_std).float()
        x = x[None, None].to(device).contiguous(memory_format=torch.channels_last)
        mu, logvar = context.network.encode(x)
        scale = torch.exp(0.5 * logvar.float())
        mu = mu.float()
    moments = Moments()
    held = None
    kept = np.empty((keep, *pixels.shape), np.float32) if keep else None
    for first in range(0, n_samples, batch_size):
        indices = range(first, min(n_samples, first + batch_size))
        with torch.inference_mode():
            noise = latent_noise(
                (context.seed, *stream),
                indices,
                latent_origin,
                tuple(mu.shape[1:]),
                device=device,
                generator=generator,
            )
            z = torch.addcmul(mu, scale, noise).contiguous(memory_format=torch.channels_last)
            samples = context.decode(z)[:, 0] * context.data_std + context.data_mean
            moments.update(samples)
            if hold_all:
                if held is None:
                    held = samples.new_empty((n_samples, *samples.shape[1:]))
                held[indices.start : indices.stop] = samples
            if kept is not None and first < keep:
                stop = min(keep, indices.stop)
                kept[first:stop] = samples[: stop - first].cpu().numpy()
        yield len(indices)
    with torch.inference_mode():
        mean = moments.mean.cpu().numpy()
        variance = moments.variance.cpu().numpy()
        estimate = None if mode is None or held is None else mode(held, origin).cpu().numpy()
    return TileResult(mean=mean, variance=variance, map=estimate, kept=kept)


class SampleCount:
    """Samples drawn so far over the whole stack, turned into progress events."""

    def __init__(self, total: int) -> None:
        self.done, self.total = 0, total

    def follow(self, steps: Generator[int, None, TileResult]) -> Generator[Progress, None, Any]:
        """Yield a Progress per batch of `steps`; return what `steps` returns."""
        while True:
            try:
                self.done += next(steps)
            except StopIteration as stop:
                return stop.value
            yield Progress(_STAGE, self.done, self.total)


def sample_plane(
    view: np.ndarray,
    plan: tuple[TileGrid, int],
    context: TileContext,
    settings: SamplingConfig,
    *,
    stream: tuple[int, int],
    count: SampleCount,
    n_samples: int,
    keep: int,
) -> Generator[Progress, None, TileBlend]:
    """Sample every tile of one (augmented) plane; keep `keep` samples; return the blend."""
    grid, batch = plan
    first = stream[1] == 0
    blend = TileBlend(
        grid,
        variance=settings.uncertainty or settings.interval is not None,
        map_=settings.map_estimate and first,
        keep=keep,
    )
    for tile in grid:
        steps = sample_tile(
            extract_tile(view, tile),
            context,
            origin=(tile.y, tile.x),
            stream=stream,
            n_samples=n_samples,
            batch_size=batch,
            keep=blend.samples.shape[0] if blend.samples is not None else 0,
            hold_all=blend.map is not None,
            mode=_map_of if blend.map is not None else None,
        )
        blend.add(tile, (yield from count.follow(steps)))
    blend.finish()
    return blend


def _map_of(samples: torch.Tensor, origin: tuple[int, int]) -> torch.Tensor:
    return mean_shift_mode(samples, patch_size=MAP_PATCH_SIZE, origin=origin)
