"""The configurations every saved model carries: its network's and its training's.

:class:`NetworkConfig` is the architecture of the VAE; :class:`TrainingConfig` says how it
is trained, and :func:`default_network_config` which network a training uses by default.

:class:`TrainingConfig` is a small pydantic model with limits on every field; it holds no
arrays or tensors and is serialised into every saved model bundle. Defaults follow the reference
DivNoising implementation, except where a training time budget is given: then the settings
that buy the most quality per second on a CPU (64×64 patches, batch 32, Adam 3e-3 with a
cosine decay over the budget, and a network of one level of 16 filters with 32 latent
channels instead of two levels of 32 filters with 64) replace the ones that the caller did not
set; the ``reference`` preset keeps the reference's settings.

Measured on FMD confocal data on a 2-core CPU (``benchmarks/bench_fmd_quality.py``, see
``docs/benchmarks.md``): 64² patches learn 1.2–1.65× more pixels per second than 128²; 16
filters take 2.8× more steps than 32 in the same time and reach 36.25 instead of 35.32 dB in
15 minutes (MMSE of 100 samples); one level instead of two (the latent code at half instead of
a quarter of the resolution) costs 13% of the steps but gives +0.55 dB after 4 minutes.
With one level, 64 latent channels at half the resolution hold 16 latent values per pixel, and
drawing, encoding and decoding them took half of every step. 32 channels (8 values per pixel)
take 1.4× the steps of 64 and batches of 32 patches 1.7× those of 64: after 15 minutes the MMSE
reaches 37.25 dB (64 channels: 37.31, 16 channels: 37.13; the earlier default of 64 channels and
batch 64: 37.24); after 5 minutes 16 channels lead (37.20 dB, 32 channels 36.85, the earlier
default 36.27). 32 channels keep most of both (over three seeds at 15 minutes: 37.17 ± 0.11).
Gated residual blocks (``res_blocks``) fit the data better but gave a worse MMSE (−0.37 dB
after 5 minutes with two), so the budget's network has none.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CONFIG_VERSION",
    "MODEL_SUFFIX",
    "DirectConfig",
    "NetworkConfig",
    "TrainingConfig",
    "default_network_config",
]

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

    res_blocks: int = Field(default=0, ge=0, le=16)
    """Gated residual blocks (HDN's) at the latent resolution, in the encoder and the decoder."""

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this number."""
        return 2**self.depth

    def network_kwargs(self) -> dict[str, int]:
        """Keyword arguments for :class:`~napari_divnoising.core.model.network.DivNoisingVAE`."""
        return self.model_dump(exclude={"version"})


#: Settings used for the fields a caller leaves unset when a time budget is given.
#: Batch 32 (the reference's) rather than 64: 1.7× the steps in the same time; +0.16 dB after
#: 5 minutes with 16 latent channels, +0.07 dB after 15 with 64 (see ``docs/benchmarks.md``).
BUDGET_DEFAULTS = {"patch_size": 64, "batch_size": 32, "learning_rate": 3e-3}
#: Architecture used when a time budget is given and the caller chose none.
BUDGET_NETWORK_DEFAULTS = {"n_filters": 16, "depth": 1, "z_dim": 32}


class TrainingConfig(BaseModel):
    """How a DivNoising network is trained.

    When `time_budget_minutes` is set, `patch_size`, `batch_size` and `learning_rate`
    that were not given explicitly take the faster settings ``64``, ``32`` and ``3e-3``,
    and the ``"auto"`` learning-rate schedule decays the rate along a cosine over the budget.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=False,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )

    version: int = Field(default=CONFIG_VERSION, ge=1, le=CONFIG_VERSION)
    """Version of this configuration schema."""

    preset: Literal["auto", "reference"] = "auto"
    """``auto``: with a time budget, the settings that learn fastest per CPU second replace
    the ones not given; ``reference``: always the reference implementation's settings
    (128² patches, batch 32, Adam 1e-3 on a plateau schedule, 32 filters)."""

    patch_size: int = Field(default=128, ge=8, le=2048)
    """Side of the square training patches, in pixels (a multiple of 2**depth)."""

    augment: bool = True
    """Apply a random one of the 8 rotations/flips to every training patch."""

    train_fraction: float = Field(default=0.85, gt=0.0, le=1.0)
    """Fraction of the images (or planes) used for training; the rest validates."""

    batch_size: int = Field(default=32, ge=1, le=4096)
    """Patches per optimisation step."""

    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    """Initial Adam learning rate."""

    lr_schedule: Literal["auto", "plateau", "cosine"] = "auto"
    """``plateau``: ReduceLROnPlateau on the validation loss; ``cosine``: decay along a
    cosine over the time budget or `max_epochs`; ``auto``: cosine with a time budget,
    plateau otherwise."""

    lr_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Factor by which the plateau schedule lowers the learning rate."""

    lr_patience: int = Field(default=30, ge=0)
    """Epochs without validation improvement before the plateau schedule lowers the rate."""

    min_lr_fraction: float = Field(default=0.02, ge=0.0, le=1.0)
    """The cosine schedule ends at this fraction of `learning_rate`."""

    warmup_steps: int = Field(default=0, ge=0)
    """Steps of linear learning-rate warm-up at the start (0: none)."""

    early_stopping_patience: int = Field(default=100, ge=1)
    """Stop after this many epochs without validation improvement."""

    max_epochs: int = Field(default=1000, ge=1)
    """Upper bound on the number of epochs."""

    steps_per_epoch: int | None = Field(default=None, ge=1)
    """Optimisation steps per epoch. None: enough batches to cover the training pixels
    about once (at least 10)."""

    validation_patches: int = Field(default=32, ge=1)
    """At most this many fixed patches of the validation images are scored per epoch."""

    time_budget_minutes: float | None = Field(default=None, gt=0.0)
    """Wall-clock training budget; training stops (keeping the best weights) when spent."""

    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    """Seed of every random choice; a seeded CPU run is exactly reproducible.
    None draws a seed, which is recorded in the saved model."""

    kl_weight: float = Field(default=1.0, ge=0.0)
    """Weight of the KL term in the loss (1 is the evidence lower bound)."""

    kl_warmup_steps: int = Field(default=0, ge=0)
    """Steps over which the KL weight rises linearly from 0 (0: no annealing)."""

    collapse_kl_threshold: float = Field(default=1e-4, ge=0.0)
    """An epoch whose mean KL per pixel is below this counts as posterior collapse."""

    max_collapse_restarts: int = Field(default=3, ge=0)
    """Restarts (fresh weights, KL warm-up) allowed after a posterior collapse."""

    collapse_warmup_steps: int = Field(default=500, ge=1)
    """KL warm-up used after a collapse restart."""

    max_nonfinite_steps: int = Field(default=20, ge=1)
    """Consecutive steps with a NaN/inf loss or gradient that stop training."""

    mixed_precision: Literal["auto", "bf16", "off"] = "auto"
    """``bf16``: run the network under bfloat16 autocast (the likelihood and KL stay in
    float32); ``auto``: bf16 where the hardware supports it natively; ``off``: float32."""

    channels_last: bool = True
    """Use the channels-last memory format (faster convolutions on CPU and GPU)."""

    calibrate_uncertainty: bool = True
    """After training, calibrate the posterior's uncertainty on the held-back validation
    planes (one scale on its standard deviation; costs about two predictions of at most
    512×512 pixels, outside the time budget). Skipped when nothing could be held out."""

    @model_validator(mode="after")
    def _apply_budget_defaults(self) -> TrainingConfig:
        if self.uses_budget_defaults:
            for name, value in BUDGET_DEFAULTS.items():
                if name not in self.model_fields_set:
                    # Bypass assignment so the field stays "unset" (and keeps its meaning).
                    self.__dict__[name] = value
        return self

    @property
    def uses_budget_defaults(self) -> bool:
        """True when a time budget brings the faster settings (preset ``auto``)."""
        return self.time_budget_minutes is not None and self.preset == "auto"

    @property
    def resolved_lr_schedule(self) -> Literal["plateau", "cosine"]:
        """The schedule actually used (``auto`` resolved)."""
        if self.lr_schedule == "auto":
            return "cosine" if self.uses_budget_defaults else "plateau"
        return self.lr_schedule


def default_network_config(training: TrainingConfig) -> NetworkConfig:
    """Return the architecture to use when the caller did not choose one.

    Parameters
    ----------
    training : TrainingConfig
        The training settings; with a time budget (preset ``auto``) the narrower, faster
        network is used.

    Returns
    -------
    NetworkConfig
        The reference architecture, or with a time budget a narrower (16 filters),
        shallower (one level) one with fewer latent channels (32), which learns more per
        CPU second.
    """
    if training.uses_budget_defaults:
        return NetworkConfig(**BUDGET_NETWORK_DEFAULTS)
    return NetworkConfig()


class DirectConfig(BaseModel):
    """How the direct network is built and trained from a trained DivNoising model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    depth: int = Field(
        3, ge=1, le=5, description="U-Net levels (image sides: multiples of 2**depth)"
    )
    n_filters: int = Field(16, ge=4, le=256, description="Filters of the first level")
    time_budget_minutes: float = Field(
        5.0, gt=0, le=24 * 60, description="Training time of the direct network, in minutes"
    )
    max_steps: int = Field(
        0, ge=0, description="Stop after this many steps (0: only the time budget stops it)"
    )
    batch_size: int = Field(16, ge=1, le=1024, description="Patches per step")
    patch_size: int = Field(64, ge=16, le=1024, description="Side of the training patches")
    samples_per_target: int = Field(
        1,
        ge=1,
        le=64,
        description="Posterior samples averaged into each patch's target (the regression's "
        "optimum is their mean either way; more samples, less noisy targets)",
    )
    learning_rate: float = Field(1e-3, gt=0, le=1, description="Adam's initial learning rate")
    validation_patches: int = Field(
        32, ge=1, le=4096, description="Held-out patches that pick the best weights"
    )
    validation_samples: int = Field(
        32, ge=2, le=1000, description="Posterior samples of the validation patches' MMSE"
    )
    seed: int | None = Field(None, ge=0, description="Seed of weights and patches (None: random)")
