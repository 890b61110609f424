"""The quality-control step: score a prediction (and the noisy input) against a ground truth.

This is the one recipe that the quality-control dock, ``divnoising evaluate``, scripts and
tests all call. It checks the images, compares a single 2D ground truth with every plane
of a stack (a scene imaged several times), and computes the SSIM and RSE maps and the
PSNR, SSIM and NRMSE of the prediction, and of the noisy input if given. Given the
prediction's uncertainty (its posterior σ), it also measures how often the truth lies in
the central 50/80/90/95% intervals ``prediction ± z·σ`` (their coverage).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..events import Progress, blocking
from ..uncertainty.intervals import gaussian_coverage
from ..validation import check_finite, check_not_constant, check_same_shape
from .metrics import QualityScores, nrmse, psnr, quality_scores, rse_map, structural_similarity

__all__ = ["QualityResult", "iter_quality_control", "quality_control"]

#: Side of the SSIM window (Gaussian, σ = 1.5, truncated at 3.5 σ): the smallest image side.
SSIM_WINDOW = 11

_STAGE = "quality control"


@dataclass(frozen=True)
class QualityResult:
    """What quality control returns.

    Attributes
    ----------
    ssim_map : ndarray of float32
        Per-pixel SSIM of the prediction, same shape as the prediction.
    rse_map : ndarray of float32
        Per-pixel root squared error of the normalised prediction, same shape.
    prediction : QualityScores
        PSNR, SSIM and NRMSE of the prediction.
    noisy : QualityScores or None
        The same figures for the noisy input, or None when none was given.
    coverage : dict of float to float
        Observed coverage (0–1) of the central intervals ``prediction ± z·uncertainty``,
        by probability (0.5, 0.8, 0.9, 0.95); empty without an uncertainty.
    """

    ssim_map: np.ndarray
    rse_map: np.ndarray
    prediction: QualityScores
    noisy: QualityScores | None
    coverage: dict[float, float] = field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        """What to do when the prediction scores below the noisy input, or None."""
        noisy, prediction = self.noisy, self.prediction
        if noisy is None or (prediction.psnr >= noisy.psnr and prediction.ssim >= noisy.ssim):
            return None
        return (
            f"The prediction scores below the noisy input (PSNR {prediction.psnr:.2f} against "
            f"{noisy.psnr:.2f} dB, SSIM {prediction.ssim:.3f} against {noisy.ssim:.3f}): "
            "structure was lost. Train longer, check that the noise model fits the data, and "
            "compare the MMSE with detail restored."
        )


def _checked(image: np.ndarray, role: str) -> np.ndarray:
    """Return `image` as an array (no copy) after the checks every scored image needs."""
    array = np.asarray(image)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise InputError(
            f"`{role}` must hold integer or floating-point intensities (got dtype {array.dtype})"
        )
    if array.ndim < 2:
        raise InputError(
            f"`{role}` must be 2D (Y, X) or a stack of 2D planes (got shape {array.shape})"
        )
    height, width = array.shape[-2:]
    if min(height, width) < SSIM_WINDOW:
        raise InputError(
            f"`{role}` is {height}×{width} pixels; quality control needs at least "
            f"{SSIM_WINDOW}×{SSIM_WINDOW} (the SSIM window)"
        )
    check_finite(array, name=role)
    return array


def _checked_inputs(
    prediction: np.ndarray, ground_truth: np.ndarray, noisy: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate the images; broadcast a 2D ground truth against a stack."""
    prediction = _checked(prediction, "prediction")
    ground_truth = _checked(ground_truth, "ground truth")
    check_not_constant(ground_truth, name="ground truth")
    if (
        ground_truth.ndim == 2
        and prediction.ndim > 2
        and ground_truth.shape == prediction.shape[-2:]
    ):
        # One clean image of a scene imaged several times: compare it with every plane.
        ground_truth = np.broadcast_to(ground_truth, prediction.shape)
    check_same_shape(prediction, ground_truth, names=("prediction", "ground truth"))
    if noisy is not None:
        noisy = _checked(noisy, "noisy input")
        check_same_shape(noisy, prediction, names=("noisy input", "prediction"))
    return prediction, ground_truth, noisy


def _checked_uncertainty(uncertainty: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    uncertainty = _checked(uncertainty, "uncertainty")
    check_same_shape(uncertainty, prediction, names=("uncertainty", "prediction"))
    if (uncertainty < 0).any():
        raise InputError("`uncertainty` must be a standard deviation (no negative values)")
    return uncertainty


def iter_quality_control(
    prediction: np.ndarray,
    ground_truth: np.ndarray,
    noisy: np.ndarray | None = None,
    uncertainty: np.ndarray | None = None,
) -> Generator[Progress, None, QualityResult]:
    """Score `prediction` (and `noisy`) against `ground_truth`, yielding progress.

    The inputs are validated when this function is called, before the first step, so a
    caller can refuse bad input before it starts a thread.

    Parameters
    ----------
    prediction : ndarray
        The denoised image ``(Y, X)`` or stack ``(..., Y, X)``.
    ground_truth : ndarray
        The clean reference: same shape as `prediction`, or a single 2D image that is
        compared with every plane of a stack `prediction` (without copying it).
    noisy : ndarray, optional
        The noisy input, same shape as `prediction`, scored for comparison.
    uncertainty : ndarray, optional
        The prediction's per-pixel posterior standard deviation, same shape: the coverage
        of its intervals is measured too.

    Returns
    -------
    Generator
        Yields :class:`~napari_divnoising.core.events.Progress`; returns a
        :class:`QualityResult`.

    Raises
    ------
    InputError
        If an image is not numeric, not 2D or a stack, smaller than the 11-pixel SSIM
        window, holds NaN/inf, if the ground truth is constant, or if shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_divnoising.core.events import run_generator
    >>> truth = np.add.outer(np.arange(16.0), np.arange(16.0))
    >>> frames = np.stack([truth + 1.0, truth - 1.0])  # two frames of one scene
    >>> events = []
    >>> result = run_generator(iter_quality_control(frames, truth), events.append)
    >>> result.ssim_map.shape, result.noisy is None
    ((2, 16, 16), True)
    >>> [round(event.fraction, 2) for event in events]
    [0.0, 0.33, 0.67, 1.0]
    """
    prediction, ground_truth, noisy = _checked_inputs(prediction, ground_truth, noisy)
    if uncertainty is not None:
        uncertainty = _checked_uncertainty(uncertainty, prediction)
    return _quality_control(prediction, ground_truth, noisy, uncertainty)


def _quality_control(
    prediction: np.ndarray,
    ground_truth: np.ndarray,
    noisy: np.ndarray | None,
    uncertainty: np.ndarray | None,
) -> Generator[Progress, None, QualityResult]:
    total = 3 if noisy is None else 4
    yield Progress(_STAGE, 0, total, status="SSIM map…")
    ssim = structural_similarity(prediction, ground_truth)
    yield Progress(_STAGE, 1, total, status="RSE map…")
    rse = rse_map(prediction, ground_truth)
    yield Progress(_STAGE, 2, total, status="PSNR and NRMSE…")
    scores = QualityScores(
        psnr=psnr(prediction, ground_truth),
        ssim=ssim.mean,
        nrmse=nrmse(prediction, ground_truth),
    )
    noisy_scores = None
    if noisy is not None:
        yield Progress(_STAGE, 3, total, status="scoring the noisy input…")
        noisy_scores = quality_scores(noisy, ground_truth)
    coverage = {}
    if uncertainty is not None:
        coverage = gaussian_coverage(ground_truth, prediction, uncertainty)
    yield Progress(_STAGE, total, total, status="done")
    return QualityResult(
        ssim_map=ssim.map, rse_map=rse, prediction=scores, noisy=noisy_scores, coverage=coverage
    )


quality_control = blocking(iter_quality_control)
