"""Built-in sample data: a fluorescence-like scene seen through a simulated camera.

Nothing is downloaded. A procedural clean image (nuclei-like blobs, filaments and a
smooth background, in photons) is turned into raw camera frames by a Poisson–Gaussian
camera model: photon shot noise, gain, offset, Gaussian read noise, rounding and
saturation. A second, static object covering the whole intensity range is imaged many
times to give calibration frames. Everything is seeded and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .errors import SettingsError

__all__ = ["CameraModel", "SampleData", "make_sample_data"]

_MIN_SIDE = 32


@dataclass(frozen=True)
class CameraModel:
    """A photon-counting camera: ``round(gain · Poisson(photons) + offset + N(0, read_noise²))``.

    Attributes
    ----------
    gain : float
        Analogue-to-digital units (ADU) per detected photon.
    offset : float
        Dark level added to every pixel, in ADU.
    read_noise : float
        Standard deviation of the Gaussian read noise, in ADU.
    bit_depth : int
        Raw values are clipped to ``[0, 2**bit_depth - 1]`` (saturation) and stored as uint16.
    """

    gain: float = 2.0
    offset: float = 100.0
    read_noise: float = 2.0
    bit_depth: int = 12

    def __post_init__(self) -> None:
        if not self.gain > 0:
            raise SettingsError(f"`gain` must be > 0 ADU per photon (got {self.gain})")
        if self.read_noise < 0:
            raise SettingsError(f"`read_noise` must be ≥ 0 ADU (got {self.read_noise})")
        if not 8 <= self.bit_depth <= 16:
            raise SettingsError(f"`bit_depth` must be between 8 and 16 (got {self.bit_depth})")

    @property
    def saturation(self) -> int:
        """Largest raw value the camera can record."""
        return 2**self.bit_depth - 1

    def expected(self, photons: np.ndarray) -> np.ndarray:
        """Return the expected raw value of pixels receiving `photons` on average (unsaturated)."""
        return self.offset + self.gain * np.asarray(photons, dtype=np.float64)

    def variance(self, expected: np.ndarray | float) -> np.ndarray:
        """Noise variance of a raw pixel with the given expected value (ADU²).

        Shot noise ``gain · (expected − offset)``, read noise and the rounding to integers
        (1/12 ADU²); saturation ignored.
        """
        shot = self.gain * (np.asarray(expected, dtype=np.float64) - self.offset)
        return np.maximum(shot, 0.0) + self.read_noise**2 + 1.0 / 12.0

    def record(
        self, photons: np.ndarray, rng: np.random.Generator, *, n_frames: int = 1
    ) -> np.ndarray:
        """Simulate `n_frames` raw frames of a scene of expected `photons` per pixel.

        Frames are drawn one after the other, so the first frames do not depend on
        `n_frames`. Returns uint16 of shape ``(n_frames, *photons.shape)``.
        """
        photons = np.maximum(np.asarray(photons, dtype=np.float64), 0.0)
        frames = np.empty((n_frames, *photons.shape), dtype=np.uint16)
        for frame in frames:
            counts = rng.poisson(photons)
            raw = (
                self.gain * counts + self.offset + rng.normal(0.0, self.read_noise, photons.shape)
            )
            frame[...] = np.clip(np.rint(raw), 0, self.saturation)
        return frames


@dataclass(frozen=True)
class SampleData:
    """Simulated noisy images, their ground truth and calibration frames of one camera.

    Attributes
    ----------
    clean : ndarray of float32, shape (Y, X)
        Expected raw value of every pixel of the noisy images (offset included): the
        ground truth.
    noisy : ndarray of uint16, shape (n_frames, Y, X)
        Independent noisy raw frames of the clean scene.
    calibration : ndarray of uint16, shape (n_calibration_frames, Y, X)
        Raw frames of a static calibration object spanning the darkest to beyond the
        brightest intensity of the noisy images.
    calibration_clean : ndarray of float32, shape (Y, X)
        Expected raw value of the calibration frames.
    camera : CameraModel
        The simulated camera.
    seed : int
        The seed everything was drawn from.
    """

    clean: np.ndarray
    noisy: np.ndarray
    calibration: np.ndarray
    calibration_clean: np.ndarray
    camera: CameraModel = field(default_factory=CameraModel)
    seed: int = 0


def _add_blobs(canvas: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Gaussian blobs (nuclei, vesicles) of random size and brightness, drawn locally."""
    height, width = canvas.shape
    for _ in range(count):
        sigma = rng.uniform(1.5, 9.0)
        amplitude = rng.uniform(0.25, 1.0)
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = int(4 * sigma) + 1
        y0, y1 = max(int(cy) - radius, 0), min(int(cy) + radius + 1, height)
        x0, x1 = max(int(cx) - radius, 0), min(int(cx) + radius + 1, width)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        canvas[y0:y1, x0:x1] += amplitude * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)
        )


def _add_filaments(canvas: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Smoothly bending thin lines (cytoskeleton-like), drawn as sub-pixel point trails."""
    height, width = canvas.shape
    trace = np.zeros_like(canvas)
    for _ in range(count):
        n_steps = int(rng.uniform(0.3, 1.0) * (height + width))
        turns = np.cumsum(rng.normal(0.0, 0.06, n_steps)) + rng.uniform(0, 2 * np.pi)
        ys = rng.uniform(0, height) + np.cumsum(0.5 * np.sin(turns))
        xs = rng.uniform(0, width) + np.cumsum(0.5 * np.cos(turns))
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        np.add.at(trace, (ys[inside].astype(int), xs[inside].astype(int)), rng.uniform(0.3, 0.8))
    canvas += ndimage.gaussian_filter(trace, 1.0) * 1.5


def _fluorescence_scene(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw a clean fluorescence-like image scaled to [0, 1]."""
    area = shape[0] * shape[1]
    canvas = np.zeros(shape)
    _add_blobs(canvas, rng, max(4, area // 1200))
    _add_filaments(canvas, rng, max(3, area // 5000))
    haze = ndimage.gaussian_filter(rng.normal(size=shape), max(shape) / 8, mode="wrap")
    canvas += 0.15 * (haze - haze.min()) / (np.ptp(haze) + 1e-12)
    return (canvas - canvas.min()) / np.ptp(canvas)


def _calibration_object(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw a static object whose intensities cover [0, 1] evenly: a ramp with spots.

    A ramp across the field guarantees every intensity of the noisy images is present
    (a diaphragm edge or a dye gradient plays that role at the microscope).
    """
    ramp = np.linspace(0.0, 1.0, shape[1])[None, :] * np.ones((shape[0], 1))
    spots = np.zeros(shape)
    _add_blobs(spots, rng, max(4, shape[0] * shape[1] // 2000))
    return np.clip(0.85 * ramp + 0.3 * spots * (1 - ramp), 0.0, 1.0)


def make_sample_data(
    *,
    seed: int = 0,
    shape: tuple[int, int] = (256, 256),
    n_frames: int = 3,
    n_calibration_frames: int = 50,
    peak_photons: float = 100.0,
    background_photons: float = 3.0,
    camera: CameraModel | None = None,
) -> SampleData:
    """Simulate noisy fluorescence images, their ground truth and calibration frames.

    Parameters
    ----------
    seed : int
        Seed of every random draw; the same seed gives identical data.
    shape : tuple of int
        Height and width of the images, each at least 32 pixels.
    n_frames : int
        Number of independent noisy frames of the scene.
    n_calibration_frames : int
        Number of frames of the static calibration object.
    peak_photons : float
        Expected photons at the brightest point of the scene, above the background.
    background_photons : float
        Expected photons everywhere (autofluorescence, out-of-focus light).
    camera : CameraModel, optional
        The camera; ``CameraModel()`` (12-bit, gain 2, offset 100, read noise 2 ADU)
        when not given.

    Returns
    -------
    SampleData
        The ground truth, noisy frames, calibration frames and camera.

    Raises
    ------
    ValueError
        If a size, count or photon level is out of range.

    Examples
    --------
    >>> data = make_sample_data(shape=(64, 64), n_calibration_frames=10)
    >>> data.noisy.shape, data.noisy.dtype.name, data.calibration.shape
    ((3, 64, 64), 'uint16', (10, 64, 64))
    """
    if len(shape) != 2 or min(shape) < _MIN_SIDE:
        raise SettingsError(f"`shape` must be (height, width), each ≥ {_MIN_SIDE} (got {shape})")
    if n_frames < 1 or n_calibration_frames < 1:
        raise SettingsError(
            "`n_frames` and `n_calibration_frames` must be ≥ 1 "
            f"(got {n_frames} and {n_calibration_frames})"
        )
    if not peak_photons > 0 or background_photons < 0:
        raise SettingsError(
            "`peak_photons` must be > 0 and `background_photons` ≥ 0 "
            f"(got {peak_photons} and {background_photons})"
        )
    camera = CameraModel() if camera is None else camera
    shape = (int(shape[0]), int(shape[1]))
    # Independent streams, so that changing a frame count leaves the scenes unchanged.
    scene_rng, noise_rng, object_rng, calibration_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(4)
    )
    photons = background_photons + peak_photons * _fluorescence_scene(shape, scene_rng)
    # The calibration object reaches 20% beyond the scene's brightest pixel.
    object_photons = (
        1.2 * (background_photons + peak_photons) * _calibration_object(shape, object_rng)
    )
    noisy = camera.record(photons, noise_rng, n_frames=n_frames)
    calibration = camera.record(object_photons, calibration_rng, n_frames=n_calibration_frames)
    return SampleData(
        clean=camera.expected(photons).astype(np.float32),
        noisy=noisy,
        calibration=calibration,
        calibration_clean=camera.expected(object_photons).astype(np.float32),
        camera=camera,
        seed=seed,
    )
