"""Quality metrics against a ground truth: PSNR, NRMSE, SSIM (with its map) and RSE map.

All metrics take the prediction first and the ground truth second, as scikit-image does,
and never guess the data range: it is always the ground truth's ``max - min``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import as_image_stack, check_same_shape

__all__ = [
    "QualityScores",
    "SSIMResult",
    "data_range_of",
    "normalize_min_mse",
    "nrmse",
    "psnr",
    "quality_scores",
    "rse_map",
    "structural_similarity",
]

# The SSIM window of Wang et al. 2004: Gaussian, sigma 1.5, truncated to 11 pixels.
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5 -> an 11-pixel window


@dataclass(frozen=True)
class SSIMResult:
    """Mean SSIM and the per-pixel SSIM map.

    Attributes
    ----------
    mean : float
        Mean structural similarity, equal to :func:`skimage.metrics.structural_similarity`.
    map : ndarray of float32
        Per-pixel SSIM, same shape as the images.
    """

    mean: float
    map: np.ndarray


@dataclass(frozen=True)
class QualityScores:
    """The quality-control figures of one prediction against its ground truth."""

    psnr: float
    ssim: float
    nrmse: float


def _as_pair(prediction: np.ndarray, ground_truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prediction = np.asarray(prediction)
    ground_truth = np.asarray(ground_truth)
    check_same_shape(prediction, ground_truth, names=("prediction", "ground_truth"))
    # as_image_stack validates (2D+, no RGB, finite, not constant); the metrics themselves
    # are computed in float64 on the original values.
    planes = as_image_stack(ground_truth, name="ground_truth").shape
    truth = ground_truth.astype(np.float64).reshape(planes)
    if not np.isfinite(prediction).all():
        raise InputError("`prediction` contains NaN or infinite pixel(s)")
    return prediction.astype(np.float64).reshape(planes), truth


def data_range_of(ground_truth: np.ndarray) -> float:
    """Return the data range used by every metric here: ``max(gt) - min(gt)``.

    Parameters
    ----------
    ground_truth : ndarray
        The reference image.

    Returns
    -------
    float
        The ground truth's intensity range.
    """
    return float(np.max(ground_truth)) - float(np.min(ground_truth))


def psnr(prediction: np.ndarray, ground_truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, with the ground truth's data range.

    ``PSNR = 20·log10(max(gt) − min(gt)) − 10·log10(MSE)``, the convention of the DivNoising
    paper and its notebooks. Stacks are scored as one array.

    Parameters
    ----------
    prediction : ndarray
        The denoised image (or the noisy input, for comparison).
    ground_truth : ndarray
        The clean reference, same shape.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for a perfect prediction.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.arange(16.0).reshape(4, 4)
    >>> round(psnr(gt + 1.0, gt), 2)  # MSE 1, range 15
    23.52
    """
    prediction, truth = _as_pair(prediction, ground_truth)
    mse = float(np.mean((prediction - truth) ** 2))
    if mse == 0:
        return float("inf")
    return float(20 * np.log10(data_range_of(truth)) - 10 * np.log10(mse))


def nrmse(prediction: np.ndarray, ground_truth: np.ndarray) -> float:
    """Root mean squared error normalised by the ground truth's data range.

    Parameters
    ----------
    prediction : ndarray
        The denoised image.
    ground_truth : ndarray
        The clean reference, same shape.

    Returns
    -------
    float
        ``sqrt(MSE) / (max(gt) − min(gt))``.
    """
    from skimage.metrics import normalized_root_mse

    prediction, truth = _as_pair(prediction, ground_truth)
    # skimage's "min-max" normalisation is exactly the ground truth's data range.
    return float(normalized_root_mse(truth, prediction, normalization="min-max"))


def structural_similarity(prediction: np.ndarray, ground_truth: np.ndarray) -> SSIMResult:
    """SSIM with an 11-pixel Gaussian window (σ = 1.5) and its per-pixel map.

    A thin wrapper around :func:`skimage.metrics.structural_similarity` with the settings of
    Wang et al. (2004) and the ground truth's data range. Stacks are scored plane by plane;
    the mean is over all pixels of all planes.

    Parameters
    ----------
    prediction : ndarray
        The denoised image, 2D or a stack of 2D planes.
    ground_truth : ndarray
        The clean reference, same shape.

    Returns
    -------
    SSIMResult
        The mean SSIM and the SSIM map (same shape as the input).
    """
    from skimage.metrics import structural_similarity as skimage_ssim

    prediction, truth = _as_pair(prediction, ground_truth)
    data_range = data_range_of(truth)
    maps = []
    for predicted_plane, true_plane in zip(prediction, truth, strict=True):
        min_side = min(true_plane.shape)
        if min_side < 11:
            raise InputError(
                f"SSIM needs images of at least 11×11 pixels (got {true_plane.shape})"
            )
        _, ssim_plane = skimage_ssim(
            true_plane,
            predicted_plane,
            data_range=data_range,
            gaussian_weights=True,
            sigma=_SSIM_SIGMA,
            truncate=_SSIM_TRUNCATE,
            use_sample_covariance=False,
            full=True,
        )
        maps.append(ssim_plane)
    ssim_map = np.stack(maps).reshape(np.shape(ground_truth)).astype(np.float32)
    # skimage averages the map after cropping the window's half-width at the border.
    radius = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)
    inner = np.stack(maps)[:, radius:-radius, radius:-radius]
    return SSIMResult(mean=float(inner.mean()), map=ssim_map)


def normalize_min_mse(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale and shift `image` to best match `target` in the least-squares sense.

    This is the normalisation of the RSE map in the ZeroCostDL4Mic quality control (from
    the CARE paper, Weigert et al. 2018): the target is normalised to its 0.1–99.9
    percentiles, then the image is mapped by the affine transform ``a·image + b`` that
    minimises the squared error to it.

    Parameters
    ----------
    image : ndarray
        The image to map onto the target's scale.
    target : ndarray
        The percentile-normalised reference.

    Returns
    -------
    ndarray of float64
        ``a·image + b``.
    """
    image = np.asarray(image, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    centred = image - image.mean()
    variance = float(np.mean(centred**2))
    scale = float(np.mean(centred * (target - target.mean()))) / variance if variance > 0 else 0.0
    return scale * image + (target.mean() - scale * image.mean())


def _percentile_normalize(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, (0.1, 99.9))
    return (image - low) / max(high - low, np.finfo(np.float64).tiny)


def rse_map(prediction: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """Per-pixel root squared error between normalised prediction and ground truth.

    Following ZeroCostDL4Mic's quality control: the ground truth is normalised to its
    0.1–99.9 percentiles, the prediction is mapped onto it with the least-squares affine
    transform (:func:`normalize_min_mse`), and the map is ``|prediction − ground_truth|``
    in those normalised units. Stacks are normalised plane by plane.

    Parameters
    ----------
    prediction : ndarray
        The denoised image.
    ground_truth : ndarray
        The clean reference, same shape.

    Returns
    -------
    ndarray of float32
        The RSE map, same shape as the input; zero where the images agree.
    """
    prediction, truth = _as_pair(prediction, ground_truth)
    maps = []
    for predicted_plane, true_plane in zip(prediction, truth, strict=True):
        target = _percentile_normalize(true_plane)
        maps.append(np.sqrt((normalize_min_mse(predicted_plane, target) - target) ** 2))
    return np.stack(maps).reshape(np.shape(ground_truth)).astype(np.float32)


def quality_scores(prediction: np.ndarray, ground_truth: np.ndarray) -> QualityScores:
    """PSNR, SSIM and NRMSE of `prediction` against `ground_truth`.

    Parameters
    ----------
    prediction : ndarray
        The denoised image (or the noisy input, for comparison).
    ground_truth : ndarray
        The clean reference, same shape.

    Returns
    -------
    QualityScores
        The three figures.
    """
    return QualityScores(
        psnr=psnr(prediction, ground_truth),
        ssim=structural_similarity(prediction, ground_truth).mean,
        nrmse=nrmse(prediction, ground_truth),
    )
