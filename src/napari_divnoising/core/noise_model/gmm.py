"""Gaussian mixture noise model, parameterised exactly as the reference (juglab/PPN2V).

For a signal ``s`` let ``u = (s - min_signal) / (max_signal - min_signal)`` and let
``P_w(u) = sum_i w[i] * u**i`` be a polynomial with coefficients ``w``. With ``K`` Gaussians
the weight matrix has shape ``(3K, n_coeff)``:

* rows ``0..K-1``: component means ``m_k = P_{w_k}(u)``;
* rows ``K..2K-1``: component variances ``v_k = max(P_{exp(w_k)}(u), min_sigma)`` — the
  coefficients are exponentiated, and ``min_sigma`` is a floor on the *variance* despite
  its (reference) name; the standard deviation is ``sqrt(v_k)``;
* rows ``2K..3K-1``: mixing weights ``a_k = exp(P_{w_k}(u)) / sum_j exp(P_{w_j}(u))``.

The means are then shifted so that the mixture mean equals ``s``:
``m_k <- m_k - sum_j a_j m_j + s``. The likelihood is ``p(x|s) = sum_k a_k N(x; m_k, v_k)``.
Its log is computed with log-sum-exp, so it stays finite and accurate far in the tails,
where the reference's direct sum underflows and the reference adds 1e-10 to the density.
That offset is left out of the likelihood on purpose: it is flat, so far from the
observation it has no gradient, and a VAE trained with it can collapse onto a constant
image (on FMD confocal data it did, every time). Only the fit keeps it, as a robust
floor for outliers (see ``_mixture.log_likelihood_from_weight``). The model evaluates the
same function one component at a time, with its derivative in the signal computed in the
same pass (``_mixture.fixed_log_likelihood``): training evaluates it at every step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SettingsError
from ._file_format import METADATA_KEY, encode_metadata, resolve_suffix, write_atomically
from ._mixture import fixed_log_likelihood, mixture_parameters
from .base import NoiseModel

__all__ = ["GaussianMixtureNoiseModel"]


class GaussianMixtureNoiseModel(NoiseModel):
    """A mixture of `K` Gaussians whose parameters are polynomials of the signal.

    Parameters
    ----------
    weight : array_like, shape (3K, n_coeff)
        The reference weight matrix (see the module docstring).
    min_signal, max_signal : float
        The signal range the model was fitted on; it defines the normalised signal ``u``.
    min_sigma : float
        Floor on each component's *variance* (the reference's name), in squared intensity
        units.
    metadata : dict, optional
        JSON-serialisable facts about the model, saved with it.

    Examples
    --------
    >>> import numpy as np
    >>> model = GaussianMixtureNoiseModel(
    ...     np.zeros((3, 2)), min_signal=0.0, max_signal=100.0, min_sigma=1.0
    ... )
    >>> float(model.variance(np.array([50.0]))[0])
    1.5
    """

    kind = "gmm"

    def __init__(
        self,
        weight: np.ndarray | torch.Tensor,
        *,
        min_signal: float,
        max_signal: float,
        min_sigma: float,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(min_signal=min_signal, max_signal=max_signal, metadata=metadata)
        weight = torch.as_tensor(weight).detach().to(dtype=torch.float32).clone()
        if weight.ndim != 2 or weight.shape[0] < 3 or weight.shape[0] % 3 or weight.shape[1] < 1:
            raise SettingsError(
                "`weight` must have shape (3 * n_gaussian, n_coeff) with n_gaussian ≥ 1 and "
                f"n_coeff ≥ 1 (got shape {tuple(weight.shape)})"
            )
        if not torch.isfinite(weight).all():
            raise SettingsError("`weight` contains NaN or infinite values")
        min_sigma = float(min_sigma)
        if not (np.isfinite(min_sigma) and min_sigma > 0):
            raise SettingsError(f"`min_sigma` (a variance floor) must be > 0 (got {min_sigma!r})")
        self.weight = weight
        self.min_sigma = min_sigma
        self._on_device: dict[torch.device, torch.Tensor] = {}

    @property
    def n_gaussian(self) -> int:
        """Number of Gaussian components K."""
        return self.weight.shape[0] // 3

    @property
    def n_coeff(self) -> int:
        """Number of polynomial coefficients (2 = linear in the signal)."""
        return self.weight.shape[1]

    def to(self, device: torch.device | str) -> GaussianMixtureNoiseModel:
        """Move the weights to `device` and return the model itself."""
        self.weight = self.weight.to(device)
        self._on_device.clear()
        return self

    def _weight_on(self, device: torch.device) -> torch.Tensor:
        if self.weight.device == device:
            return self.weight
        if device not in self._on_device:
            self._on_device[device] = self.weight.to(device)
        return self._on_device[device]

    def mixture_parameters(
        self, signal: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Component means, variances and log weights at `signal` (see module docstring)."""
        signal = torch.as_tensor(signal)
        dtype = torch.float64 if signal.dtype == torch.float64 else torch.float32
        return mixture_parameters(
            self._weight_on(signal.device).to(dtype),
            signal.to(dtype),
            min_signal=self.min_signal,
            max_signal=self.max_signal,
            min_sigma=self.min_sigma,
        )

    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log p(x|s)``: a density per unit of intensity.

        Parameters
        ----------
        observation : torch.Tensor
            Observed pixel values in raw intensity units.
        signal : torch.Tensor
            Signal values; broadcast against `observation`.

        Returns
        -------
        torch.Tensor
            float32 log densities with the broadcast shape, differentiable in `signal`.
        """
        signal = torch.as_tensor(signal).float()
        observation = torch.as_tensor(observation, device=signal.device).float()
        return fixed_log_likelihood(
            self._weight_on(signal.device),
            observation,
            signal,
            min_signal=self.min_signal,
            max_signal=self.max_signal,
            min_sigma=self.min_sigma,
        )

    def _numpy_parameters(self, signal: np.ndarray) -> tuple[np.ndarray, ...]:
        with torch.no_grad():
            params = self.mixture_parameters(torch.tensor(np.asarray(signal, dtype=np.float64)))
        means, variances, log_weights = (p.cpu().numpy() for p in params)
        return means, variances, np.exp(log_weights)

    def mean(self, signal: np.ndarray) -> np.ndarray:
        """Return E[x|s] (equal to `signal` by construction), as float64."""
        means, _, weights = self._numpy_parameters(signal)
        return (weights * means).sum(axis=-1)

    def variance(self, signal: np.ndarray) -> np.ndarray:
        """Return Var[x|s] of the mixture, as float64.

        Parameters
        ----------
        signal : ndarray
            Signal values in raw intensity units.

        Returns
        -------
        ndarray of float64
            ``sum_k a_k (v_k + (m_k - E[x|s])**2)``, with the shape of `signal`.
        """
        means, variances, weights = self._numpy_parameters(signal)
        centre = (weights * means).sum(axis=-1, keepdims=True)
        return (weights * (variances + (means - centre) ** 2)).sum(axis=-1)

    def sample_observation(self, signal: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        """Draw one observation per signal value from the mixture.

        Parameters
        ----------
        signal : ndarray
            Signal values in raw intensity units.
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        ndarray of float64
            Noisy observations with the shape of `signal`.
        """
        means, variances, weights = self._numpy_parameters(signal)
        cumulative = np.cumsum(weights, axis=-1)
        draw = rng.random(np.shape(signal))[..., None]
        component = np.minimum((draw > cumulative).sum(axis=-1), self.n_gaussian - 1)[..., None]
        mean = np.take_along_axis(means, component, axis=-1)[..., 0]
        std = np.sqrt(np.take_along_axis(variances, component, axis=-1)[..., 0])
        return rng.normal(mean, std)

    def save(self, path: str | Path) -> Path:
        """Write the model as a reference-compatible `.npz` (atomically).

        The keys ``trained_weight``, ``min_signal``, ``max_signal`` and ``min_sigma`` are
        those of juglab/PPN2V and juglab/DivNoising, so their tools read the file; a JSON
        ``metadata`` entry (kind, fit settings, units, date, version) is added, which they
        ignore.

        Parameters
        ----------
        path : str or Path
            Destination; ``.npz`` is appended when the name has no suffix.

        Returns
        -------
        Path
            The file written.
        """
        path = resolve_suffix(path, allowed=(".npz",), default=".npz")
        arrays = {
            "trained_weight": self.weight.detach().cpu().numpy().astype(np.float32),
            "min_signal": np.array([self.min_signal], dtype=np.float64),
            "max_signal": np.array([self.max_signal], dtype=np.float64),
            "min_sigma": np.array(self.min_sigma, dtype=np.float64),
            METADATA_KEY: encode_metadata(self.metadata),
        }
        return write_atomically(path, lambda file: np.savez(file, **arrays))
