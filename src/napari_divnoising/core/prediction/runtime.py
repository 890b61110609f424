"""How a prediction runs on this machine (private helpers of :mod:`.sampling`).

A private copy of the network, the decoder's precision, the network's receptive radius,
and the tile and batch sizes that fit the memory.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..model.device import bf16_is_fast, select_device
from .posterior import MAP_PATCH_SIZE, TileContext
from .tiling import TileGrid, make_tile_grid

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from .config import SamplingConfig

__all__ = [
    "TILE_MEMORY_BYTES",
    "auto_tile_size",
    "available_memory_bytes",
    "decode_precision",
    "make_decoder",
    "plan_tiles",
    "plan_views",
    "prepare_network",
    "receptive_radius",
    "resolve_device",
    "tile_context",
]

#: Working memory allowed for one tile (held samples and decoder activations).
TILE_MEMORY_BYTES = 512 * 2**20
_TILE_SIDES = (1024, 512, 256, 128, 64)

_RADIUS_CACHE: dict[tuple, int] = {}


def resolve_device(device: torch.device | str | None) -> torch.device:
    """Return the torch device of `device` (None: a GPU if there is one, else the CPU)."""
    if isinstance(device, torch.device):
        return device

    return select_device("auto" if device is None else str(device)).device


def prepare_network(network: nn.Module, device: torch.device) -> nn.Module:
    """Return an evaluation copy of `network` on `device`, channels-last where it helps."""
    # A private copy: moving it or changing its memory format leaves the caller's model alone.
    prepared = copy.deepcopy(network).to(device).eval()
    if device.type in ("cpu", "cuda"):
        prepared = prepared.to(memory_format=torch.channels_last)
    return prepared


def receptive_radius(network: nn.Module) -> int:
    """Pixels of context on each side that one output pixel depends on (measured).

    The gradient of a block of outputs of a freshly initialised copy of the architecture
    (random weights, random input, so no path is dead) shows which inputs it reads.
    """
    config = network.config_dict() if hasattr(network, "config_dict") else None
    key = (type(network).__qualname__, tuple(sorted(config.items())) if config else id(network))
    if key in _RADIUS_CACHE:
        return _RADIUS_CACHE[key]
    multiple = int(network.size_multiple)
    size = 16 * multiple
    generator = torch.Generator().manual_seed(0)
    # Fresh weights come from the global generator: leave the caller's random state alone.
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(0)
        probe = type(network)(**config) if config else copy.deepcopy(network)
        probe = probe.float().cpu()
        x = torch.randn((1, 1, size, size), generator=generator, requires_grad=True)
        mu, logvar = probe.encode(x)
        out = probe.decode(mu + logvar)
        centre = size // 2
        out[0, 0, centre : centre + multiple, centre : centre + multiple].sum().backward()
    gradient = x.grad[0, 0].abs()
    radius = 0
    for profile in (gradient.sum(1), gradient.sum(0)):
        reach = torch.nonzero(profile).flatten()
        if reach.numel():
            radius = max(radius, centre - int(reach[0]), int(reach[-1]) - (centre + multiple - 1))
    _RADIUS_CACHE[key] = radius
    return radius


def decode_precision(device: torch.device) -> torch.dtype:
    """Return the decoder's dtype on `device`: bfloat16 where it is native, else float32.

    Measured on this project's CPU (AVX-512 BF16, 2 threads, reference network, 512²):
    bfloat16 autocast with channels-last decodes 1.3–1.7× faster than float32 (more when
    the processor is not shared), and the MMSE of 30 samples on FMD data moved by 0.006
    ADU RMS (noise σ ≈ 6 ADU; PSNR unchanged to 0.001 dB). The encoder, the network's
    output layer and every statistic stay in float32. ``benchmarks/bench_inference.py
    --model`` repeats the comparison for a trained model.
    """
    return torch.bfloat16 if bf16_is_fast(device) else torch.float32


def make_decoder(
    network: nn.Module, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``decode(z) -> float32 (B, 1, H, W)`` in :func:`decode_precision`.

    The network keeps its linear output layer in float32 under autocast.
    """
    dtype = decode_precision(device)
    enabled = dtype != torch.float32

    def decode(z: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype, enabled=enabled):
            return network.decode(z).float()

    return decode


def tile_context(model: TrainedModel, *, seed: int, device: torch.device) -> TileContext:
    """Return what every tile shares: a private copy of the network on `device`, etc."""
    network = prepare_network(model.network, device)
    return TileContext(
        network=network,
        decode=make_decoder(network, device),
        data_mean=float(model.data_mean),
        data_std=float(model.data_std),
        device=device,
        seed=seed,
    )


def available_memory_bytes() -> int:
    """Memory the operating system can give this process now (4 GiB when unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil comes with napari
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 4 * 2**30  # pragma: no cover


def auto_tile_size(
    *,
    bytes_per_pixel: float,
    budget_bytes: float,
    size_multiple: int,
) -> int:
    """Choose the largest standard tile side whose working memory fits a budget.

    Parameters
    ----------
    bytes_per_pixel : float
        Working memory per tile pixel (held samples, decoder activations).
    budget_bytes : float
        Memory allowed for one tile.
    size_multiple : int
        The result is a multiple of this number.

    Returns
    -------
    int
        A tile side from 1024, 512, 256, 128, 64 (or `size_multiple` if larger).
    """
    for side in _TILE_SIDES:
        tiles_fit = side * side * bytes_per_pixel <= budget_bytes
        if tiles_fit or side == _TILE_SIDES[-1]:
            side = max(side, size_multiple)
            return -(-side // size_multiple) * size_multiple
    raise AssertionError("unreachable")  # pragma: no cover


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


def _memory_budget(device: torch.device, *, scale: float) -> float:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        # A GPU decodes larger batches faster; use a quarter of its free memory.
        return min(4 * scale * TILE_MEMORY_BYTES, free / 4)
    return min(scale * TILE_MEMORY_BYTES, available_memory_bytes() / 4)


def plan_tiles(
    shape: tuple[int, int],
    settings: SamplingConfig,
    network: nn.Module,
    radius: int,
    *,
    device: torch.device,
) -> tuple[TileGrid, int]:
    """Return the tile grid and batch size for planes of `shape` that fit in memory.

    Raises
    ------
    ValueError
        If an explicit `tile_overlap` does not fit in the tile.
    """
    multiple = int(network.size_multiple)
    width = int(getattr(network, "n_filters", 32))
    # A MAP estimate holds every sample of a tile: allow it twice the memory, so that 100
    # samples still fit a 512² tile and 1000 samples a 256² one.
    budget = _memory_budget(device, scale=2.0 if settings.map_estimate else 1.0)
    # Bytes per tile pixel: decoder activations of one sample (measured ≈ 8 B per filter)
    # and, for a MAP estimate, every sample of the tile plus the mean shift's working copy.
    decode_bytes = 8.0 * width
    held_bytes = 12.0 * settings.n_samples if settings.map_estimate else 0.0
    overlap = settings.tile_overlap
    if overlap is None:
        overlap = 2 * radius + 2 * multiple
    overlap = _round_up(overlap, multiple)
    tile = settings.tile_size
    if tile is None:
        tile = auto_tile_size(
            bytes_per_pixel=decode_bytes + held_bytes + 32.0,
            budget_bytes=budget,
            size_multiple=multiple,
        )
        tile = max(tile, _round_up(2 * overlap, multiple))
    tile = _round_up(max(tile, multiple), multiple)
    if settings.tile_overlap is None:
        overlap = min(overlap, _round_up(tile // 2, multiple) - multiple)
    grid = make_tile_grid(
        shape, tile_size=tile, overlap=max(overlap, 0), size_multiple=multiple, radius=radius
    )
    batch = settings.batch_size
    if batch is None:
        pixels = grid.tile_shape[0] * grid.tile_shape[1]
        spare = budget - pixels * (held_bytes + 32.0)
        batch = int(max(1, min(32, spare // (pixels * decode_bytes))))
    return grid, min(batch, settings.n_samples)


def plan_views(
    views: Iterable[tuple[int, int]],
    settings: SamplingConfig,
    network: nn.Module,
    *,
    device: torch.device,
) -> dict[tuple[int, int], tuple[TileGrid, int]]:
    """Return :func:`plan_tiles` for each plane shape in `views` (one per augmentation)."""
    radius = receptive_radius(network)
    if settings.map_estimate:
        # A MAP pixel also depends on the samples of the patches around it.
        radius += MAP_PATCH_SIZE
    return {
        view: plan_tiles(view, settings, network, radius, device=device)
        for view in dict.fromkeys(views)
    }
