from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import napari_divnoising.core.noise_model as noise_models

from ...waiting import EVENT_WAIT_S


def test_importing_the_package_does_not_import_torch():
    code = (
        "import sys\n"
        "from napari_divnoising.core.noise_model import (\n"
        "    NoiseModelRangeWarning, fit_noise_model)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert not any(m.startswith(('napari.', 'qtpy', 'PyQt')) for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=EVENT_WAIT_S)


def test_public_names_resolve():
    for name in noise_models.__all__:
        assert getattr(noise_models, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'GMM'"):
        noise_models.GMM  # noqa: B018


def test_check_variance_and_nll_on_a_known_model(tiny_gmm, rng):
    signal = np.broadcast_to(rng.uniform(20.0, 240.0, (16, 16)), (200, 16, 16))
    observation = tiny_gmm.sample_observation(np.ascontiguousarray(signal), rng=rng)
    check = noise_models.check_variance(tiny_gmm, signal, observation, n_bins=4)
    assert check.count.sum() == observation.size
    np.testing.assert_allclose(check.relative_error, 0.0, atol=0.06)
    nll = noise_models.mean_negative_log_likelihood(tiny_gmm, signal, observation)
    # the expected NLL is the entropy of p(x|s): close to that of a Gaussian of equal variance
    gaussian = np.mean(0.5 * np.log(2 * np.pi * np.e * tiny_gmm.variance(signal[0])))
    assert nll == pytest.approx(gaussian, abs=0.3)
