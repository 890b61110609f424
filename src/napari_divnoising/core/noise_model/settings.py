"""How a noise model is made: a small pydantic model, recorded in every noise-model file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["NOISE_MODEL_SUFFIX", "PSEUDO_GROUND_TRUTH_PERCENTILES", "NoiseModelSettings"]

#: File suffix of each kind of noise model (the reference tools' formats).
NOISE_MODEL_SUFFIX = {"gmm": ".npz", "histogram": ".npy"}

#: Signal percentiles kept when the signal is a pseudo ground truth (bootstrap, or a
#: denoised image): its extremes are its least reliable values (reference notebooks).
PSEUDO_GROUND_TRUTH_PERCENTILES = (0.5, 99.5)


class NoiseModelSettings(BaseModel):
    """Settings of a noise-model fit (defaults: the reference DivNoising/PPN2V notebooks)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )

    name: str | None = Field(default=None, max_length=200)
    """What to call the model (e.g. the microscope and its settings, as the reference
    notebooks' ``dataName``); kept in its file and shown when it is loaded."""

    kind: Literal["gmm", "histogram"] = "gmm"
    """Gaussian mixture (GMM): smooth, recommended for training. Histogram: a 2D histogram
    of the pairs, for plenty of calibration data."""

    n_gaussian: int = Field(default=3, ge=1, le=10)
    """Gaussians in the mixture."""

    n_coeff: int = Field(default=2, ge=1, le=5)
    """Polynomial coefficients per mixture parameter (2: linear in the signal)."""

    min_sigma: float | None = Field(default=None, gt=0.0)
    """Lower bound on each Gaussian's variance, in squared intensity units. None: a
    quarter of the smallest variance found in signal bins (never below 1/12 for counts)."""

    n_iterations: int = Field(default=2000, ge=1, le=1_000_000)
    """Adam steps of the GMM fit, at most (see `stop_when_converged`)."""

    stop_when_converged: bool = True
    """End the GMM fit early once its loss has levelled off: when the mean loss of the
    last 100 steps is no lower than that of the 100 before by twice its standard error,
    the learning rate anneals over a final tenth of `n_iterations` and the fit ends.
    False: always take all `n_iterations` steps (the reference's behaviour)."""

    batch_size: int = Field(default=100_000, ge=1, le=10_000_000)
    """Random (signal, observation) pairs per GMM fitting step."""

    learning_rate: float = Field(default=0.1, gt=0.0, le=10.0)
    """Peak Adam learning rate of the GMM fit (warm-up, then cosine decay to 1% of it)."""

    lower_percentile: float | None = Field(default=None, ge=0.0, le=100.0)
    """Pixels whose signal lies below this percentile are left out. None: 0 for
    calibration frames, 0.5 for a pseudo ground truth."""

    upper_percentile: float | None = Field(default=None, ge=0.0, le=100.0)
    """Pixels whose signal lies above this percentile are left out. None: 100 for
    calibration frames, 99.5 for a pseudo ground truth."""

    saturation: float | None = None
    """Observations at or above this value are left out. None: the largest value of an
    integer dtype (nothing for floating-point data)."""

    bins: int | None = Field(default=None, ge=2, le=4096)
    """Histogram bins per axis. None: up to 256, aligned with integer values for counts."""

    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    """Seed of the pair sampling; the same inputs and seed give the same model."""

    @model_validator(mode="after")
    def _percentiles_in_order(self) -> NoiseModelSettings:
        low, high = self.percentiles(pseudo_ground_truth=False)
        if not low < high:
            raise ValueError(
                "percentiles must satisfy lower_percentile < upper_percentile "
                f"(got {low!r} and {high!r})"
            )
        return self

    def percentiles(self, *, pseudo_ground_truth: bool) -> tuple[float, float]:
        """Return the signal percentiles to keep, for this kind of signal.

        Parameters
        ----------
        pseudo_ground_truth : bool
            Whether the signal is estimated from the noisy images themselves.

        Returns
        -------
        tuple of float
            ``(lower, upper)``, each in [0, 100].
        """
        low, high = PSEUDO_GROUND_TRUTH_PERCENTILES if pseudo_ground_truth else (0.0, 100.0)
        return (
            low if self.lower_percentile is None else self.lower_percentile,
            high if self.upper_percentile is None else self.upper_percentile,
        )

    @property
    def suffix(self) -> str:
        """File suffix of this kind of noise model."""
        return NOISE_MODEL_SUFFIX[self.kind]
