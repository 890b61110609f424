"""The direct network: the posterior mean (MMSE) in one pass, beside the sampler.

DivNoising's MMSE is the mean of many posterior samples, one decode each. Salmon & Krull
("Direct Unsupervised Denoising", ICCV Workshops 2023) train, beside the VAE, a plain
feed-forward network to regress the VAE's posterior samples: under a squared loss the
regression's optimum is the samples' expectation, that is the MMSE, which the network then
gives in one pass. Samples, MAP and uncertainty still come from the sampler.

The network is a small U-Net on the VAE's normalised intensities: ``depth`` levels of two
3×3 convolutions with ReLU and a 2×2 max pool, filters doubling per level, a decoder of
transposed convolutions and skip connections, and a linear 1×1 output added to the input
(it learns the correction, which starts at zero). No batch normalisation: training and
evaluation behave the same.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DirectNetwork", "build_direct_network"]


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class DirectNetwork(nn.Module):
    """A U-Net from normalised noisy images to their normalised MMSE.

    Parameters
    ----------
    depth : int
        Down-sampling levels; image sides must be multiples of ``2**depth``.
    n_filters : int
        Filters of the first level; each deeper level doubles them.

    Examples
    --------
    >>> network = build_direct_network(depth=2, n_filters=8, seed=0)
    >>> network(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, depth: int = 3, n_filters: int = 32) -> None:
        super().__init__()
        self.depth, self.n_filters = depth, n_filters
        widths = [n_filters * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            _double_conv(1 if level == 0 else widths[level - 1], widths[level])
            for level in range(depth)
        )
        self.bottom = _double_conv(widths[depth - 1], widths[depth])
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
            for level in reversed(range(depth))
        )
        self.merge = nn.ModuleList(
            _double_conv(2 * widths[level], widths[level]) for level in reversed(range(depth))
        )
        self.output = nn.Conv2d(widths[0], 1, 1)
        nn.init.zeros_(self.output.weight)  # starts as the identity: the input itself
        nn.init.zeros_(self.output.bias)

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this number (``2**depth``)."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the normalised MMSE ``(B, 1, H, W)`` of normalised images `x`."""
        skips = []
        hidden = x
        for block in self.down:
            hidden = block(hidden)
            skips.append(hidden)
            hidden = nn.functional.max_pool2d(hidden, 2)
        hidden = self.bottom(hidden)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            hidden = merge(torch.cat([up(hidden), skip], dim=1))
        # Float32 output also under autocast: a bfloat16 MMSE would keep 3 digits.
        with torch.autocast(hidden.device.type, enabled=False):
            return x.float() + self.output(hidden.float())

    def config_dict(self) -> dict[str, int]:
        """Return the constructor arguments that rebuild this architecture."""
        return {"depth": self.depth, "n_filters": self.n_filters}


def build_direct_network(*, seed: int | None = None, **kwargs: int) -> DirectNetwork:
    """Build a :class:`DirectNetwork` without touching torch's global random state.

    Parameters
    ----------
    seed : int, optional
        Seed of the initial weights; None leaves them arbitrary (for loading weights).
    **kwargs
        Constructor arguments of :class:`DirectNetwork`.

    Returns
    -------
    DirectNetwork
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return DirectNetwork(**kwargs)
