import numpy as np
import pytest
import tifffile
from scipy import ndimage

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.noise_model.poisson_gaussian import (
    PoissonGaussianParams,
    estimate_poisson_gaussian,
    generalized_anscombe,
    inverse_generalized_anscombe,
)


def _scene(rng, shape=(256, 256), peak=1.0):
    """Smooth structures over a ramp, in [0, peak]: flat areas at every intensity."""
    blobs = ndimage.gaussian_filter((rng.random(shape) > 0.997).astype(float), 6)
    ramp = np.linspace(0, 1, shape[1])[None, :]
    scene = 0.6 * ramp + blobs / blobs.max()
    return peak * scene / scene.max()


def _camera(rng, photons, *, gain, offset, read_noise, bits=16):
    raw = gain * rng.poisson(photons) + offset + rng.normal(0, read_noise, photons.shape)
    return np.clip(np.rint(raw), 0, 2**bits - 1).astype(np.uint8 if bits == 8 else np.uint16)


@pytest.mark.parametrize(
    ("gain", "offset", "read_noise", "peak", "bits"),
    [
        (2.0, 100.0, 3.0, 300.0, 16),  # sCMOS-like, 16-bit with an offset
        (4.0, 3.6, 0.5, 40.0, 8),  # dim 8-bit confocal (like FMD)
        (60.0, 450.0, 30.0, 200.0, 16),  # EMCCD-like: large gain and offset
    ],
)
def test_estimate_recovers_known_gain_and_offset(rng, gain, offset, read_noise, peak, bits):
    raw = _camera(
        rng, _scene(rng, peak=peak), gain=gain, offset=offset, read_noise=read_noise, bits=bits
    )
    params = estimate_poisson_gaussian(raw)
    assert params.gain == pytest.approx(gain, rel=0.1)
    # The variance line (shot + read + 1/12 rounding noise) across the scene's range.
    for photons in (0.1 * peak, 0.5 * peak, peak):
        expected = gain**2 * photons + read_noise**2 + 1 / 12
        assert params.variance(offset + gain * photons) == pytest.approx(expected, rel=0.1)
    # The offset is an extrapolation below the darkest data: within 10% of the range.
    assert params.offset == pytest.approx(offset, abs=0.1 * gain * peak)


def test_estimate_ignores_saturated_and_floored_pixels(rng):
    photons = _scene(rng, peak=300.0)
    photons[:, :100] = rng.uniform(0.5, 3, (256, 1))  # a dark background...
    raw = _camera(rng, photons, gain=2.0, offset=100.0, read_noise=3.0, bits=12)
    raw[:20] = 4095  # ...a saturated band...
    floored = np.clip(raw.astype(np.int32) - 100, 0, None)  # ...and the offset cut off at 0
    assert (floored == 0).mean() > 0.05
    params = estimate_poisson_gaussian(floored)
    assert params.gain == pytest.approx(2.0, rel=0.1)
    assert params.variance(100.0) == pytest.approx(2.0 * 100 + 9, rel=0.1)


@pytest.mark.parametrize("peak", [2.0, 20.0])
def test_estimate_handles_photon_counts_near_zero(rng, peak):
    # Pure photon counting (gain 1, no offset): zeros are common, not a clipped floor.
    counts = rng.poisson(0.3 + _scene(rng, peak=peak))
    params = estimate_poisson_gaussian(counts)
    assert params.gain == pytest.approx(1.0, rel=0.1)
    assert params.variance(peak / 2) == pytest.approx(peak / 2, rel=0.15)


def test_estimate_pools_a_stack(rng):
    photons = _scene(rng, shape=(96, 96), peak=300.0)
    stack = np.stack(
        [_camera(rng, photons, gain=2.0, offset=100.0, read_noise=3.0) for _ in range(4)]
    )
    assert estimate_poisson_gaussian(stack).gain == pytest.approx(2.0, rel=0.1)


def test_variance_line_and_offset():
    params = PoissonGaussianParams(gain=2.0, intercept=-190.0)
    assert params.offset == pytest.approx(95.0)
    np.testing.assert_allclose(params.variance([90.0, 100.0, 195.0]), [0.0, 10.0, 200.0])


def test_gaussian_noise_is_not_photon_noise(rng):
    image = 1000 * _scene(rng) + rng.normal(0, 20, (256, 256))
    with pytest.raises(InputError, match="does not grow with intensity"):
        estimate_poisson_gaussian(image)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.arange(40 * 40, dtype=float).reshape(40, 40), "usable 8×8 blocks"),
        (np.full((64, 64), 3.0), "constant"),
        (np.zeros((64, 64, 3)) + np.arange(3), "RGB"),
    ],
)
def test_bad_images_are_refused(image, match):
    with pytest.raises(InputError, match=match):
        estimate_poisson_gaussian(image)


@pytest.mark.parametrize("read_noise", [0.0, 2.0])
def test_anscombe_stabilises_and_its_inverse_is_unbiased(rng, read_noise):
    gain, offset = 3.0, 50.0
    params = PoissonGaussianParams(gain=gain, intercept=read_noise**2 - gain * offset)
    for photons in (1.0, 3.0, 10.0, 100.0):
        raw = gain * rng.poisson(photons, 200_000) + offset + rng.normal(0, read_noise, 200_000)
        stabilised = generalized_anscombe(raw, params)
        if photons >= 3:
            assert stabilised.std() == pytest.approx(1.0, abs=0.08)
        # A perfect denoiser returns E[f(x)]; the exact unbiased inverse maps it to E[x].
        recovered = inverse_generalized_anscombe(stabilised.mean(), params)
        assert recovered == pytest.approx(
            offset + gain * photons, abs=0.03 * gain * photons + 0.05
        )


def test_inverse_is_monotonic_and_floored_at_the_offset():
    params = PoissonGaussianParams(gain=4.0, intercept=-14.4)
    values = inverse_generalized_anscombe(np.linspace(-1, 30, 500), params)
    assert np.all(np.diff(values) >= 0)
    assert values.min() == pytest.approx(params.offset)


@pytest.mark.shared_data
def test_estimate_on_real_cameras(shared_data_dir):
    fmd = tifffile.imread(shared_data_dir / "fmd_confocal_bpae_b" / "view02_raw.tif")[0]
    params = estimate_poisson_gaussian(fmd)
    assert params.gain == pytest.approx(4.0, rel=0.15)  # README: variance ≈ 4.0·mean − 14.4
    assert params.offset == pytest.approx(3.6, abs=0.6)
    tirf = tifffile.imread(shared_data_dir / "tirf_microtubules" / "tirf_200hz_raw.tif")[0]
    params = estimate_poisson_gaussian(tirf)
    assert params.gain == pytest.approx(2.36, rel=0.15)  # README: 2.36·(mean − 94.5)
    assert params.offset == pytest.approx(94.5, abs=2.0)
    emccd = tifffile.imread(
        shared_data_dir / "convallaria_single_frame" / "convallaria_raw_frame0.tif"
    )
    params = estimate_poisson_gaussian(emccd)
    assert 300 < params.offset < 600  # README: offset roughly 400, median 671
    assert params.gain > 1
