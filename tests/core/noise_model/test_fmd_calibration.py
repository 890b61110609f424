"""Calibration noise models on real camera data (FMD Confocal_BPAE_B, ../shared/data).

The full-size check (10 views, 2000 iterations) is `benchmarks/bench_noise_model_fit.py`;
this test runs the same check on fewer views and iterations to stay under a minute.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_divnoising.core.noise_model import (
    check_variance,
    fit_noise_model,
    mean_negative_log_likelihood,
)

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

N_VIEWS = 3
N_FIT_FRAMES = 40


@pytest.fixture
def fmd_frames(shared_data_dir) -> np.ndarray:
    """(views, 50 frames, 512, 512) uint8 raw frames of static samples."""
    tifffile = pytest.importorskip("tifffile")
    folder = shared_data_dir / "fmd_confocal_bpae_b"
    return np.stack(
        [tifffile.imread(folder / f"view{v:02d}_raw.tif") for v in range(1, N_VIEWS + 1)]
    )


def test_calibrated_gmm_matches_the_frames_variance_and_likelihood(fmd_frames):
    mean = fmd_frames.astype(np.float64).mean(axis=1)  # the calibration signal
    fit_frames = np.ascontiguousarray(fmd_frames[:, :N_FIT_FRAMES])
    fit_signal = np.broadcast_to(mean[:, None], fit_frames.shape)
    gmm = fit_noise_model(fit_signal, fit_frames, n_iterations=600, batch_size=50_000)

    # Variance: in every one of 40 quantile bins of the signal with ≥ 1000 pixels, except
    # those of the darkest 10% of the signal, within 15% of E[(x - s)^2 | bin].
    check = check_variance(
        gmm, np.broadcast_to(mean[:, None], fmd_frames.shape), fmd_frames, n_bins=40
    )
    judged = (check.edges[:-1] >= np.quantile(mean, 0.10) - 1e-9) & (check.count >= 1000)
    assert judged.sum() == 36
    curve = "\n".join(
        f"{lo:7.2f}-{hi:7.2f}: empirical {e:8.3f}, GMM {m:8.3f} ({100 * r:+.1f}%)"
        for lo, hi, e, m, r in zip(
            check.edges[:-1],
            check.edges[1:],
            check.empirical,
            check.model,
            check.relative_error,
            strict=True,
        )
    )
    assert np.all(np.abs(check.relative_error[judged]) <= 0.15), curve

    # Likelihood of frames not used for fitting: the GMM within 0.15 nats of the histogram.
    histogram = fit_noise_model(fit_signal, fit_frames, kind="histogram")
    held_out = fmd_frames[:, N_FIT_FRAMES:]
    held_signal = np.broadcast_to(mean[:, None], held_out.shape)
    nll_gmm = mean_negative_log_likelihood(gmm, held_signal, held_out)
    nll_histogram = mean_negative_log_likelihood(histogram, held_signal, held_out)
    assert nll_gmm - nll_histogram <= 0.15, (nll_gmm, nll_histogram)
    assert 1.5 < nll_histogram < 3.0  # nats per pixel for 8-bit data of this spread
