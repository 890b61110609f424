"""Poisson–Gaussian noise: parameters from the noisy images alone, and its stabilising transform.

A camera that counts photons records ``x = gain · photons + offset + read noise``; the
variance of a pixel then grows linearly with its expected value,
``variance(mean) = gain · mean + intercept`` (with ``intercept = read_noise² − gain · offset``).

:func:`estimate_poisson_gaussian` measures that line on the images themselves, without
calibration frames: the finest Haar wavelet detail of 2×2 pixel groups is blind to the
image's (locally linear) structure and carries only noise, so in smooth 8×8 blocks its
mean square is the local noise variance, and the block's mean is the local signal. The
blocks are binned by intensity and a line is fitted robustly through the bins.
:func:`generalized_anscombe` then makes the noise approximately Gaussian with unit
variance (so a Gaussian denoiser such as BM3D applies) and
:func:`inverse_generalized_anscombe` goes back with the exact unbiased inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import as_image_stack

__all__ = [
    "PoissonGaussianParams",
    "estimate_poisson_gaussian",
    "generalized_anscombe",
    "inverse_generalized_anscombe",
]

_BLOCK = 4  # Haar coefficients per block side: 8×8-pixel blocks
_MIN_BLOCKS = 64
_MIN_PER_BIN = 8  # smooth blocks (16 noise coefficients each) for a bin to count
_MAX_BINS = 48
# Bins whose relative misfit is this many robust spreads from the line get no weight.
_TUKEY_C = 4.685
# A block is smooth when its horizontal/vertical Haar energy is within this factor of
# the noise variance of its intensity bin (those coefficients are independent of the
# diagonal ones under white noise, so the selection does not bias the variance).
_TEXTURE_FACTOR = 1.6


@dataclass(frozen=True)
class PoissonGaussianParams:
    """A linear noise-variance curve, ``variance(mean) = gain · mean + intercept``.

    Attributes
    ----------
    gain : float
        Slope of the variance in the image's units per photon-equivalent (ADU per
        photon for raw camera counts); > 0.
    intercept : float
        Variance at a mean of zero, ``read_noise² − gain · offset``; negative for a
        camera with an offset above its read noise.
    bin_means, bin_variances : tuple of float
        The measured intensity bins the line was fitted through (for plots and checks).
    bin_weights : tuple of float
        Robust weight of each bin in the final fit (0 = rejected as an outlier).
    """

    gain: float
    intercept: float
    bin_means: tuple[float, ...] = ()
    bin_variances: tuple[float, ...] = ()
    bin_weights: tuple[float, ...] = ()

    @property
    def offset(self) -> float:
        """Mean at which the fitted variance reaches zero, ``-intercept / gain``.

        For a camera whose read noise is small next to its shot noise this is close to
        its offset (dark level).
        """
        return -self.intercept / self.gain

    def variance(self, mean: np.ndarray | float) -> np.ndarray:
        """Noise variance at the given expected intensity (clipped at zero).

        Parameters
        ----------
        mean : array_like
            Expected pixel values, in the image's units.

        Returns
        -------
        ndarray of float64
            ``max(gain · mean + intercept, 0)``.
        """
        return np.maximum(self.gain * np.asarray(mean, dtype=np.float64) + self.intercept, 0.0)


def _haar(plane: np.ndarray) -> tuple[np.ndarray, ...]:
    """Finest-scale orthonormal 2D Haar coefficients (approximation scaled to a mean)."""
    height, width = plane.shape
    plane = plane[: height // 2 * 2, : width // 2 * 2].astype(np.float64)
    a, b = plane[0::2, 0::2], plane[0::2, 1::2]
    c, d = plane[1::2, 0::2], plane[1::2, 1::2]
    mean = (a + b + c + d) / 4
    diagonal = (a - b - c + d) / 2
    horizontal = (a + b - c - d) / 2
    vertical = (a - b + c - d) / 2
    return mean, diagonal, horizontal, vertical


def _block_mean(values: np.ndarray) -> np.ndarray:
    height, width = (s // _BLOCK * _BLOCK for s in values.shape)
    cut = values[:height, :width]
    return cut.reshape(height // _BLOCK, _BLOCK, width // _BLOCK, _BLOCK).mean(axis=(1, 3))


def _piled_up(stack: np.ndarray, value: float, neighbour: np.ndarray) -> bool:
    """Whether many pixels sit at `value`, more than at the next value inwards."""
    count = np.count_nonzero(stack == value)
    next_count = np.count_nonzero(stack == neighbour.min()) if neighbour.size else 0
    return count > max(0.001 * stack.size, 16) and count > 1.5 * next_count


def _clip_levels(stack: np.ndarray) -> tuple[float, float]:
    """Values at which the data look clipped (piled up at the extremes), else ±inf.

    A floor (offset-subtracted data clipped at 0) or a saturation level makes many
    pixels share the extreme value, more than the value next to it; blocks touching it
    have a biased mean and variance.
    """
    low, high = float(stack.min()), float(stack.max())
    floor = low if _piled_up(stack, low, stack[stack > low]) else -np.inf
    ceiling = high if _piled_up(stack, high, -stack[stack < high]) else np.inf
    return floor, ceiling


def _block_statistics(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block mean, diagonal-detail variance and texture energy of all planes."""
    low, high = _clip_levels(stack)
    means, noise, texture, unclipped = [], [], [], []
    for plane in stack:
        mean, diagonal, horizontal, vertical = _haar(plane)
        clipped = ((plane <= low) | (plane >= high)).astype(np.float64)
        unclipped.append(_block_mean(_haar(clipped)[0]).ravel() == 0)
        means.append(_block_mean(mean).ravel())
        noise.append(_block_mean(diagonal**2).ravel())
        texture.append(_block_mean((horizontal**2 + vertical**2) / 2).ravel())
    keep = np.concatenate(unclipped)
    if keep.sum() < max(_MIN_BLOCKS, 0.1 * keep.size):
        # Nearly every block touches the extreme value: photon counts so low that zero
        # is simply the commonest value, not a clipped floor. Use every block.
        keep[:] = True
    return np.concatenate(means)[keep], np.concatenate(noise)[keep], np.concatenate(texture)[keep]


def _bin_curve(means: np.ndarray, noise: np.ndarray, texture: np.ndarray):
    """Bin blocks by intensity; per bin, the mean noise variance of its smooth blocks."""
    n_bins = int(np.clip(means.size // 96, 4, _MAX_BINS))
    order = np.argsort(means, kind="stable")
    bin_means, bin_vars, bin_counts = [], [], []
    for chunk in np.array_split(order, n_bins):
        # The median of a mean of 16 squared Gaussian coefficients is ~0.96 of its mean.
        level = np.median(noise[chunk]) / 0.958
        smooth = chunk[(texture[chunk] <= _TEXTURE_FACTOR * level) & (noise[chunk] <= 4 * level)]
        if smooth.size < _MIN_PER_BIN:
            continue
        bin_means.append(means[smooth].mean())
        bin_vars.append(noise[smooth].mean())
        bin_counts.append(smooth.size)
    return np.array(bin_means), np.array(bin_vars), np.array(bin_counts, dtype=np.float64)


def _robust_line(
    x: np.ndarray, y: np.ndarray, counts: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """Fit ``y = a x + b`` minimising relative errors, with Tukey bisquare reweighting.

    Relative errors weigh every bin alike whatever its variance, which is what a
    variance-stabilising transform needs; the reweighting discards bins that leave the
    line (texture that passed the smoothness test, a non-linear dark floor).
    """
    robust = np.ones_like(x)
    slope, intercept = np.polyfit(x, y, 1)
    for _ in range(30):
        predicted = np.maximum(slope * x + intercept, 0.05 * y.max())
        residual = (y - predicted) / predicted
        scale = 1.4826 * np.median(np.abs(residual - np.median(residual))) + 1e-3
        robust = np.clip(1 - (residual / (_TUKEY_C * scale)) ** 2, 0, None) ** 2
        weights = counts * robust / predicted**2
        design = np.stack([x, np.ones_like(x)], axis=1) * np.sqrt(weights)[:, None]
        solution, *_ = np.linalg.lstsq(design, y * np.sqrt(weights), rcond=None)
        converged = np.allclose(solution, (slope, intercept), rtol=1e-6, atol=1e-9)
        slope, intercept = float(solution[0]), float(solution[1])
        if converged:
            break
    return slope, intercept, robust


def estimate_poisson_gaussian(image: np.ndarray) -> PoissonGaussianParams:
    """Estimate the Poisson–Gaussian noise of noisy images alone, without calibration.

    Parameters
    ----------
    image : array_like
        One noisy 2D image ``(Y, X)`` or a stack ``(..., Y, X)`` of noisy images from the
        same camera and settings, in raw units (counts/ADU; the offset need not be removed).
        At least 64×64 pixels in all.

    Returns
    -------
    PoissonGaussianParams
        The fitted variance line and the intensity bins it was fitted through.

    Raises
    ------
    InputError
        If the image is invalid (see :func:`~napari_divnoising.core.validation.as_image_stack`),
        too small, or its noise variance does not grow with intensity as photon-counting
        noise does (for example already-denoised, normalised or purely Gaussian data).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.linspace(5, 200, 256)[None, :] * np.ones((256, 1))
    >>> noisy = 2.0 * rng.poisson(clean) + 100 + rng.normal(0, 3, clean.shape)
    >>> params = estimate_poisson_gaussian(noisy)
    >>> bool(abs(params.gain - 2.0) < 0.2)
    True
    """
    stack = as_image_stack(image, name="image", min_size=2 * _BLOCK)
    means, noise, texture = _block_statistics(stack)
    if means.size < _MIN_BLOCKS:
        raise InputError(
            f"`image` has only {means.size} usable 8×8 blocks (shape {np.shape(image)}); "
            f"at least {_MIN_BLOCKS} (e.g. one 64×64 image) are needed to estimate its noise"
        )
    bin_means, bin_vars, counts = _bin_curve(means, noise, texture)
    if bin_means.size < 3 or np.ptp(bin_means) <= 0:
        raise InputError(
            "`image` has too few smooth regions of different brightness to estimate its "
            "noise; use calibration frames or a larger image"
        )
    slope, intercept, robust = _robust_line(bin_means, bin_vars, counts)
    used = robust > 0
    span = slope * np.ptp(bin_means[used]) if used.sum() >= 2 else 0.0
    typical = float(np.median(bin_vars))
    # Photon noise makes the variance grow markedly across the intensity range; a flat
    # or falling line means another kind of noise (or none) and no stabilising transform.
    if not slope > 0 or span < 0.25 * typical:
        raise InputError(
            "the noise of `image` does not grow with intensity as photon-counting noise does "
            f"(variance {bin_vars.min():.3g}–{bin_vars.max():.3g} over intensities "
            f"{bin_means.min():.3g}–{bin_means.max():.3g}, fitted slope {slope:.3g}); "
            "use raw camera data, or calibration frames to fit the noise model"
        )
    return PoissonGaussianParams(
        gain=slope,
        intercept=intercept,
        bin_means=tuple(float(v) for v in bin_means),
        bin_variances=tuple(float(v) for v in bin_vars),
        bin_weights=tuple(float(v) for v in robust),
    )


def generalized_anscombe(image: np.ndarray, params: PoissonGaussianParams) -> np.ndarray:
    """Stabilise Poisson–Gaussian noise to approximately unit-variance Gaussian noise.

    ``f(x) = 2 / gain · sqrt(max(gain · x + 3/8 · gain² + intercept, 0))``
    (Starck, Murtagh & Bijaoui 1998; Mäkitalo & Foi 2013).

    Parameters
    ----------
    image : array_like
        Noisy image(s) in raw units.
    params : PoissonGaussianParams
        The noise of `image`.

    Returns
    -------
    ndarray of float64
        The transformed image, same shape as `image`.
    """
    x = np.asarray(image, dtype=np.float64)
    gain = params.gain
    return 2.0 / gain * np.sqrt(np.maximum(gain * x + 0.375 * gain**2 + params.intercept, 0.0))


# Below this value the closed-form inverse is no longer monotonic (its D^-k terms take
# over); it maps to ~0 photons there, so the curve is held flat below it.
_D_FLOOR = 1.2247  # 2·sqrt(3/8): the transform of zero photons without read noise


def inverse_generalized_anscombe(
    transformed: np.ndarray, params: PoissonGaussianParams
) -> np.ndarray:
    """Invert :func:`generalized_anscombe` without bias (for a denoised, i.e. averaged, image).

    Uses the closed-form approximation of the exact unbiased inverse of Mäkitalo & Foi
    (IEEE TIP 22(1), 2013): in photon units
    ``p = D²/4 + √(3/2)/4 · D⁻¹ − 11/8 · D⁻² + 5/8 · √(3/2) · D⁻³ − 1/8 − σ²``,
    then ``x = gain · p + offset``. Only ``intercept`` enters, so the split between
    read noise and offset need not be known.

    Parameters
    ----------
    transformed : array_like
        A denoised image in the transformed domain.
    params : PoissonGaussianParams
        The parameters used for the forward transform.

    Returns
    -------
    ndarray of float64
        The estimate of the expected value in raw units, same shape as `transformed`.
    """
    d = np.maximum(np.asarray(transformed, dtype=np.float64), _D_FLOOR)
    root = np.sqrt(1.5)
    photons = d**2 / 4 + root / 4 / d - 11 / 8 / d**2 + 5 / 8 * root / d**3 - 1 / 8
    # The lowest expected value the model allows: no photons on top of the offset
    # (intercept < 0), or zero when the intercept is pure read noise.
    photons = np.maximum(photons, max(params.intercept, 0.0) / params.gain**2)
    return params.gain * photons - params.intercept / params.gain
