"""Architecture of the DivNoising network: a small pydantic model, saved in every bundle."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CONFIG_VERSION", "MODEL_SUFFIX", "NetworkConfig"]

#: File suffix of a trained model bundle.
MODEL_SUFFIX = ".divnoising"

#: Version of the configuration schemas (network, training, sampling).
CONFIG_VERSION = 1


class NetworkConfig(BaseModel):
    """Architecture of the DivNoising VAE (reference: depth 2, 32 filters, 64 latent channels)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    version: int = Field(default=CONFIG_VERSION, ge=1, le=CONFIG_VERSION)
    """Version of this configuration schema."""

    depth: int = Field(default=2, ge=1, le=5)
    """Number of down-sampling levels; image sides are padded to multiples of 2**depth."""

    n_filters: int = Field(default=32, ge=1, le=512)
    """Convolution filters of the first level; every deeper level doubles them."""

    z_dim: int = Field(default=64, ge=1, le=1024)
    """Channels of the latent code."""

    n_conv_per_level: int = Field(default=2, ge=1, le=4)
    """3×3 convolutions (each followed by ReLU) per level."""

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this number."""
        return 2**self.depth

    def network_kwargs(self) -> dict[str, int]:
        """Keyword arguments for :class:`~napari_divnoising.core.model.network.DivNoisingVAE`."""
        return self.model_dump(exclude={"version"})
