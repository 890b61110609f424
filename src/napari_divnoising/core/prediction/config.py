"""Settings of posterior sampling: a small pydantic model with limits on every field.

:class:`SamplingConfig` is what :func:`~napari_divnoising.core.prediction.sampling.
iter_sample_posterior` validates its keyword arguments through, what the sampling dock and
``divnoising predict`` build their inputs from, and what every prediction carries (and the
command line saves beside its outputs).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import settings_error_from
from ..model.config import CONFIG_VERSION
from ..settings import COMMAND_LINE_DEFAULT

__all__ = ["MAX_SAMPLES", "MIN_TILE_SIZE", "SamplingConfig", "sampling_config"]

#: Most posterior samples one prediction may draw per plane (hours of work on a CPU).
MAX_SAMPLES = 100_000
#: Smallest tile side a user may ask for: the largest ``size_multiple`` of any network
#: (depth 5: 2**5). Smaller tiles are mostly overlap: a side of 3 cut a 256² image into
#: 8,192 tiles.
MIN_TILE_SIZE = 32


class SamplingConfig(BaseModel):
    """How the DivNoising posterior of an image is sampled."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    version: int = Field(default=CONFIG_VERSION, ge=1, le=CONFIG_VERSION)
    """Version of this configuration schema."""

    n_samples: int = Field(default=100, ge=1, le=MAX_SAMPLES)
    """Posterior samples drawn per plane (spread over the 8 rotations/flips with `tta`);
    the MMSE and the uncertainty are computed over them."""

    keep_samples: int = Field(default=0, ge=0, le=MAX_SAMPLES)
    """How many of the samples to return (the first ones drawn), at most `n_samples`;
    0 keeps none."""

    map_estimate: bool = False
    """Also compute the MAP estimate (patch-wise mean shift over the samples of each tile;
    slower)."""

    uncertainty: bool = Field(default=True, json_schema_extra={COMMAND_LINE_DEFAULT: False})
    """Also return the per-pixel uncertainty: the standard deviation of the samples, times
    the model's calibration scale (see `calibrate_uncertainty`). On the command line it is
    off unless asked for: there every result is one more file per image."""

    calibrate_uncertainty: bool = True
    """Apply the model's uncertainty calibration, when it has one (one scale on the
    standard deviation, estimated after training on held-back planes of the training
    data). False: the raw standard deviation of the samples."""

    interval: float | None = Field(default=None, gt=0.0, lt=1.0)
    """Also return the lower and upper bounds of the central posterior interval of this
    probability (0.9: the 90% interval, MMSE ± 1.645 × uncertainty): on data like the
    training data, the clean signal lies in it on about that share of pixels. None: no
    bounds."""

    restore_detail: bool = True
    """Also return the MMSE with detail restored: the share of ``noisy − MMSE`` that the
    noise model's variance cannot explain is added back (a local Wiener gain; see
    :mod:`~napari_divnoising.core.prediction.detail`)."""

    tta: bool = True
    """Test-time augmentation: spread the samples over the 8 rotations/flips of the image
    (an eighth each) and pool them, at the cost of the plain MMSE: the network's
    preference for one orientation averages out (+0.17 dB MMSE on FMD confocal data).
    Kept samples are spread over the views too, turned back; a MAP estimate comes from the
    un-augmented image, which then draws all `n_samples`."""

    tile_size: int | None = Field(default=None, ge=MIN_TILE_SIZE, le=65_536)
    """Largest side of the tiles processed at once, at least 32 pixels; lower it if memory
    runs out. Rounded up to a multiple of the network's size multiple; tiles are balanced
    to cover the image evenly. None: chosen from the memory available, up to 1024."""

    tile_overlap: int | None = Field(default=None, ge=0)
    """Smallest overlap of neighbouring tiles, in pixels. None: twice the network's
    receptive radius plus a short blending ramp (60 pixels for the reference network, 92
    with `map_estimate`)."""

    batch_size: int | None = Field(default=None, ge=1)
    """Latent samples decoded at once. None: chosen from the tile's memory."""

    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seed of the latent noise; the same seed gives the same result for any tile and
    batch size."""

    direct: bool = False
    """The direct network's MMSE (``direct_mmse``) instead of sampling: one pass of a network
    trained to give the posterior mean, dozens of times faster; needs a model with a direct
    network. Samples, MAP, uncertainty and intervals come from the sampler only, so they
    are off; `tta` averages the 8 rotations/flips at 8 passes' cost."""

    @model_validator(mode="before")
    @classmethod
    def _direct_turns_off_what_it_cannot_give(cls, values: Any) -> Any:
        # The sampler's defaults (uncertainty, detail restoration, TTA) would otherwise
        # make every direct prediction an error or 8 times slower.
        if isinstance(values, dict) and values.get("direct"):
            off = {"uncertainty": False, "restore_detail": False, "tta": False}
            values = {**off, **values}
        return values

    @model_validator(mode="after")
    def _direct_gives_the_mmse_alone(self) -> SamplingConfig:
        asked = {
            "map_estimate": self.map_estimate,
            "uncertainty": self.uncertainty,
            "interval": self.interval is not None,
            "keep_samples": self.keep_samples > 0,
            "restore_detail": self.restore_detail,
        }
        wanted = [name for name, on in asked.items() if on]
        if self.direct and wanted:
            raise ValueError(
                f"`direct` gives the MMSE only; {', '.join(f'`{n}`' for n in wanted)} need the "
                "posterior sampler (drop `direct`, or turn them off)"
            )
        return self

    @model_validator(mode="after")
    def _keep_at_most_drawn(self) -> SamplingConfig:
        if self.keep_samples > self.n_samples:
            raise ValueError(
                f"`keep_samples` must be at most `n_samples` (got {self.keep_samples} "
                f"and {self.n_samples})"
            )
        return self


def sampling_config(**values: Any) -> SamplingConfig:
    """Return the :class:`SamplingConfig` of `values`.

    Raises
    ------
    SettingsError
        One line naming every bad argument ("`n_samples`: input should be greater than
        or equal to 1 (got 0)").
    """
    try:
        return SamplingConfig(**values)
    except ValidationError as err:
        raise settings_error_from(err) from None
