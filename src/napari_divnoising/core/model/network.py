"""The DivNoising variational auto-encoder (a fully convolutional VAE).

The architecture follows the reference implementation (Prakash, Krull & Jug, ICLR 2021):
``depth`` encoder levels, each two 3×3 convolutions with ReLU followed by a 2×2 max pool,
the number of filters doubling at every level; two 3×3 convolutional heads give the mean
and log-variance of a spatial latent code with ``z_dim`` channels at ``1 / 2**depth`` of the
input resolution. The decoder mirrors the encoder with transposed convolutions and ends in
a linear 3×3 convolution. There is no batch normalisation, so a network behaves the same
in training and evaluation mode.

With ``res_blocks > 0`` the encoder (before the latent heads) and the decoder (after its
first convolution) each gain that many gated residual blocks at the latent resolution, the
building block of the hierarchical DivNoising (HDN, Prakash et al., ICLR 2022): two 3×3
convolutions and a 1×1 gate, added to their input. They deepen the network and widen its
receptive field where a pixel costs a quarter (one level) of the full resolution.

The network works on *normalised* intensities, ``(x - data_mean) / data_std``, with shape
``(B, 1, H, W)`` where ``H`` and ``W`` are multiples of :attr:`DivNoisingVAE.size_multiple`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SettingsError

__all__ = ["DivNoisingVAE", "build_network"]


def _conv_block(in_channels: int, out_channels: int, n_conv: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for index in range(n_conv):
        layers.append(
            nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1)
        )
        layers.append(nn.ReLU(inplace=True))
    return layers


class GatedResidualBlock(nn.Module):
    """``x + gate(conv(relu(conv(relu(x)))))``, the gate a 1×1 convolution split in two halves.

    The gate lets a block start close to the identity and open where it helps, which keeps
    a deeper network as quick to train as a shallow one.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.gate = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.gate(self.body(x)).chunk(2, dim=1)
        return x + torch.relu(value) * torch.sigmoid(gate)


class DivNoisingVAE(nn.Module):
    """Fully convolutional VAE whose decoder predicts the clean signal.

    Parameters
    ----------
    depth : int
        Number of down-sampling levels; image sides must be multiples of ``2**depth``.
    n_filters : int
        Filters of the first level; each deeper level doubles them.
    z_dim : int
        Channels of the latent code.
    n_conv_per_level : int
        3×3 convolutions per level (2 in the reference).
    res_blocks : int
        Gated residual blocks at the latent resolution in the encoder and in the decoder
        (0 in the reference).

    Examples
    --------
    >>> import torch
    >>> net = DivNoisingVAE()
    >>> reconstruction, mu, logvar = net(torch.zeros(2, 1, 32, 32))
    >>> reconstruction.shape, mu.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 64, 8, 8]))
    """

    def __init__(
        self,
        *,
        depth: int = 2,
        n_filters: int = 32,
        z_dim: int = 64,
        n_conv_per_level: int = 2,
        res_blocks: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("depth", depth),
            ("n_filters", n_filters),
            ("z_dim", z_dim),
            ("n_conv_per_level", n_conv_per_level),
        ):
            if int(value) != value or value < 1:
                raise SettingsError(f"`{name}` must be an integer ≥ 1 (got {value!r})")
        if int(res_blocks) != res_blocks or res_blocks < 0:
            raise SettingsError(f"`res_blocks` must be an integer ≥ 0 (got {res_blocks!r})")
        self.depth = int(depth)
        self.n_filters = int(n_filters)
        self.z_dim = int(z_dim)
        self.n_conv_per_level = int(n_conv_per_level)
        self.res_blocks = int(res_blocks)

        widths = [self.n_filters * 2**level for level in range(self.depth)]
        encoder: list[nn.Module] = []
        in_channels = 1
        for width in widths:
            encoder += _conv_block(in_channels, width, self.n_conv_per_level)
            encoder.append(nn.MaxPool2d(2))
            in_channels = width
        encoder += [GatedResidualBlock(widths[-1]) for _ in range(self.res_blocks)]
        self.encoder = nn.Sequential(*encoder)
        self.mu_head = nn.Conv2d(widths[-1], self.z_dim, 3, padding=1)
        self.logvar_head = nn.Conv2d(widths[-1], self.z_dim, 3, padding=1)

        decoder: list[nn.Module] = []
        in_channels = self.z_dim
        for level, width in enumerate(reversed(widths)):
            decoder += _conv_block(in_channels, width, self.n_conv_per_level)
            if level == 0:
                decoder += [GatedResidualBlock(width) for _ in range(self.res_blocks)]
            decoder.append(nn.ConvTranspose2d(width, width, 2, stride=2))
            in_channels = width
        self.decoder = nn.Sequential(*decoder)
        # Linear output: the decoder predicts a normalised signal that may be negative.
        self.output = nn.Conv2d(widths[0], 1, 3, padding=1)

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this number (``2**depth``)."""
        return 2**self.depth

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean and log-variance of q(z|x) for normalised images ``(B, 1, H, W)``."""
        features = self.encoder(x)
        return self.mu_head(features), self.logvar_head(features)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Return the normalised signal ``(B, 1, H, W)`` decoded from latent codes `z`.

        The last (linear) convolution always runs in float32, also under autocast: a
        bfloat16 output would round the signal to 3 significant digits, which biases the
        likelihood and the mean of many samples.
        """
        hidden = self.decoder(z)
        with torch.autocast(hidden.device.type, enabled=False):
            return self.output(hidden.float())

    @staticmethod
    def sample_latent(
        mu: torch.Tensor, logvar: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``z ~ N(mu, exp(logvar))`` with the re-parameterisation trick."""
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + noise * torch.exp(0.5 * logvar)

    def forward(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one latent sample and decode it.

        Parameters
        ----------
        x : Tensor, shape (B, 1, H, W)
            Normalised images; ``H`` and ``W`` multiples of :attr:`size_multiple`.
        generator : torch.Generator, optional
            Source of the latent noise (for reproducible draws).

        Returns
        -------
        tuple of Tensor
            ``(reconstruction, mu, logvar)``.
        """
        mu, logvar = self.encode(x)
        z = self.sample_latent(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar

    def config_dict(self) -> dict[str, int]:
        """Return the constructor arguments that rebuild this architecture."""
        return {
            "depth": self.depth,
            "n_filters": self.n_filters,
            "z_dim": self.z_dim,
            "n_conv_per_level": self.n_conv_per_level,
            "res_blocks": self.res_blocks,
        }


def build_network(*, seed: int | None = None, **kwargs: int) -> DivNoisingVAE:
    """Build a :class:`DivNoisingVAE` without touching torch's global random state.

    Parameters
    ----------
    seed : int, optional
        Seed of the initial weights; None leaves them arbitrary (for loading weights).
    **kwargs
        Constructor arguments of :class:`DivNoisingVAE`.

    Returns
    -------
    DivNoisingVAE
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return DivNoisingVAE(**kwargs)
