"""Bootstrap: a pseudo ground truth made from the noisy images themselves.

Without calibration frames, a noise model can still be fitted to pairs of (signal,
observation) where the signal is a good classical denoising of the observation itself
(Prakash et al. 2020, "Fully unsupervised probabilistic Noise2Void"). Plain BM3D assumes
Gaussian noise of one variance, which photon noise is not (32.2 dB against 37.2 dB on FMD
confocal data, DESIGN.md §4), so each image is first stabilised with the generalized
Anscombe transform, denoised with BM3D at σ = 1, and taken back with the exact unbiased
inverse; the Poisson–Gaussian parameters come from the images themselves.

A denoiser keeps part of each pixel's own noise in its output, most where the image is
bright and textured. Pairs of (denoised, noisy) then show too little noise: fitted to them,
a noise model's variance came out 20–25% low at high signal on FMD confocal data. Each
plane is therefore denoised twice, each time with one half of a checkerboard replaced by
the mean of its four neighbours. Where a pixel was replaced, the output does not depend on
its own noise ("blind spot", as Noise2Void's predictions in PN2V's bootstrap): those values
make the signal of the pairs. The average of the two passes is the pseudo ground truth
shown to the user; it is slightly better than one BM3D pass (+0.1 dB on FMD).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from ..child_process import ChildProcess
from ..events import Progress, blocking
from ..validation import as_image_stack
from ._blind_bm3d import PASSES_PER_PLANE, checkerboard_inputs, vst_bm3d
from .calibration import find_saturated
from .pairs import NoisePairs, check_raw_intensities
from .poisson_gaussian import PoissonGaussianParams, estimate_poisson_gaussian

__all__ = [
    "BOOTSTRAP_PERCENTILES",
    "BootstrapResult",
    "bootstrap",
    "bootstrap_pairs",
    "bootstrap_signal",
    "iter_bootstrap",
]

#: Signal percentiles a noise model fitted to bootstrap pairs should keep (the reference
#: DivNoising/PPN2V notebooks): the extremes of a pseudo ground truth are its least reliable.
BOOTSTRAP_PERCENTILES = (0.5, 99.5)
STAGE = "bootstrapping pseudo ground truth (BM3D)"
MIN_BOOTSTRAP_SIZE = 16  # BM3D matches 8×8 blocks in a search window: smaller planes make no sense


@dataclass(frozen=True)
class BootstrapResult:
    """Everything one bootstrap computes.

    Attributes
    ----------
    signal : ndarray of float32
        The pseudo ground truth, same shape as the images.
    pairs : NoisePairs
        Blind-spot pseudo ground truth and the images, shape ``(N, 1, Y, X)``, to fit a
        noise model to (with ``lower_percentile``/``upper_percentile`` set to
        :data:`BOOTSTRAP_PERCENTILES`).
    params : PoissonGaussianParams
        The Poisson–Gaussian noise used for the variance-stabilising transform.
    """

    signal: np.ndarray
    pairs: NoisePairs
    params: PoissonGaussianParams


def iter_bootstrap(
    images: np.ndarray,
    *,
    params: PoissonGaussianParams | None = None,
    saturation: float | None = None,
) -> Generator[Progress, None, BootstrapResult]:
    """Make a pseudo ground truth and noise-model pairs from noisy images, with progress.

    Each 2D plane is denoised twice (see the module notes): generalized Anscombe
    transform, BM3D at σ = 1, exact unbiased inverse (Mäkitalo & Foi 2013), each pass
    with one half of a checkerboard of pixels hidden. One BM3D pass takes about 7 s per
    512×512 plane on a laptop-class CPU.

    Parameters
    ----------
    images : array_like
        A noisy 2D image ``(Y, X)`` or a stack ``(..., Y, X)`` of noisy planes from one
        camera, in raw units (counts/ADU). Planes are denoised independently.
    params : PoissonGaussianParams, optional
        The camera's noise. Estimated from all planes together when not given.
    saturation : float, optional
        Values at and above it are saturated (default: an integer dtype's largest value).

    Yields
    ------
    Progress
        One event before the first and one after every BM3D pass (two per plane).

    Returns
    -------
    BootstrapResult
        The pseudo ground truth, the pairs to fit a noise model to, and the parameters.

    Raises
    ------
    InputError
        If the images are invalid, smaller than 16×16, not photon-counting noise (see
        :func:`estimate_poisson_gaussian`), offset-subtracted (see
        :func:`.pairs.check_raw_intensities`) or all saturated. Raised when the generator
        is first advanced, before any BM3D pass.

    Warns
    -----
    UserWarning
        If pixels are saturated (how many; they are left out of the pairs).
    """
    array = np.asarray(images)
    stack = as_image_stack(array, name="images", min_size=MIN_BOOTSTRAP_SIZE)
    if params is None:
        params = estimate_poisson_gaussian(stack)
    # The noise of the darkest smooth regions measured: never below the read noise.
    dark = [v for v, w in zip(params.bin_variances, params.bin_weights, strict=True) if w]
    dark_std = np.sqrt(min(dark) if dark else params.variance(float(np.median(stack))))
    check_raw_intensities(stack, float(dark_std), name="the noisy images")
    # Observations keep their dtype: a fit recognises integer counts and their saturation.
    observation = array.reshape(stack.shape)[:, None]
    saturated, level = find_saturated(observation, saturation, frames=False)
    total = PASSES_PER_PLANE * len(stack)
    signal = np.zeros_like(stack)
    blind = np.empty_like(stack)
    yield Progress(STAGE, 0, total)
    with ChildProcess() as child:  # each pass takes seconds: Stop must not wait for it
        for index, plane in enumerate(stack):
            for phase, (masked, hidden) in enumerate(checkerboard_inputs(plane)):
                done = PASSES_PER_PLANE * index + phase
                pass_ = child.call(vst_bm3d, masked, params)
                estimate = yield from _reported(pass_, Progress(STAGE, done, total))
                signal[index] += estimate / PASSES_PER_PLANE
                blind[index][hidden] = estimate[hidden]
                yield Progress(STAGE, done + 1, total)
    observation.flags.writeable = False
    pairs = NoisePairs(blind[:, None], observation, "bootstrap", saturated, level)
    return BootstrapResult(signal=signal.reshape(array.shape), pairs=pairs, params=params)


def _reported(call: Generator[None, None, np.ndarray], event: Progress):
    """Yield `event` while `call` waits for the child process; return its result."""
    while True:
        try:
            next(call)
        except StopIteration as stop:
            return stop.value
        yield event


bootstrap = blocking(iter_bootstrap)


def bootstrap_signal(
    images: np.ndarray,
    *,
    params: PoissonGaussianParams | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> np.ndarray:
    """Denoise noisy images into a pseudo ground truth: :func:`bootstrap`'s ``signal``.

    Parameters
    ----------
    images, params
        As for :func:`iter_bootstrap`.
    progress : callable, optional
        Called with each :class:`~napari_divnoising.core.events.Progress` event.

    Returns
    -------
    ndarray of float32
        The pseudo ground truth, same shape as `images`, in the same units.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = 20 + 30 * (np.indices((64, 64)).sum(0) % 32 < 16)
    >>> noisy = 2.0 * rng.poisson(clean) + 100
    >>> bootstrap_signal(noisy).shape
    (64, 64)
    """
    return bootstrap(images, params=params, progress=progress).signal


def bootstrap_pairs(
    images: np.ndarray,
    *,
    params: PoissonGaussianParams | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> NoisePairs:
    """Make (pseudo ground truth, noisy image) pairs to fit a noise model to.

    :func:`bootstrap`'s ``pairs``.

    Parameters
    ----------
    images, params
        As for :func:`iter_bootstrap` (leading axes are flattened into ``N``).
    progress : callable, optional
        Called with each :class:`~napari_divnoising.core.events.Progress` event.

    Returns
    -------
    NoisePairs
        ``signal`` (the blind-spot pseudo ground truth, float32) and ``observation`` (the
        images, in their own dtype), of shape ``(N, 1, Y, X)``: each image is its own
        one-frame "stack". Fit with ``lower_percentile``/``upper_percentile`` set to
        :data:`BOOTSTRAP_PERCENTILES`, as the reference does.
    """
    return bootstrap(images, params=params, progress=progress).pairs
