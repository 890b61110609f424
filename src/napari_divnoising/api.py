"""A small object-oriented front to the core, for the napari console and scripts.

Examples
--------
In the napari console, with a noisy image layer and a calibration stack loaded::

    from napari_divnoising import DivNoising, make_noise_model

    noise_model = make_noise_model(viewer.layers["calibration frames"].data).noise_model
    denoiser = DivNoising(noise_model, time_budget_minutes=5, seed=0)
    denoiser.fit(viewer.layers["noisy frames"].data)
    result = denoiser.sample(viewer.layers["noisy frames"].data, map_estimate=True)
    viewer.add_image(result.mmse, name="mmse")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .core.model.trained import TrainedModel
    from .core.noise_model import NoiseModel
    from .core.prediction.results import Prediction, StackPrediction

__all__ = ["DivNoising"]

#: Options of :meth:`DivNoising.predict_to_zarr` that say where, not how, to sample.
_ZARR_TARGET_KEYS = ("stem", "overwrite", "scheduler", "n_workers", "model_file")


class DivNoising:
    """Train a DivNoising model and draw denoised images from it.

    Parameters
    ----------
    noise_model : NoiseModel or path-like, optional
        The camera noise model (see :func:`~napari_divnoising.fit_noise_model`), or the
        path of its file (``.npz``/``.npy``).
    gaussian_sigma : float, optional
        Without a noise model: the standard deviation of Gaussian noise, in raw units.
        Exactly one of `noise_model` and `gaussian_sigma` must be given.
    network_config : NetworkConfig, optional
        The architecture (default: the reference's).
    device : str
        ``"auto"`` (GPU when there is one), ``"cpu"``, ``"cuda"`` or ``"mps"``.
    **training_options
        Fields of :class:`~napari_divnoising.core.model.config.TrainingConfig`, e.g.
        ``time_budget_minutes=5``, ``max_epochs=200``, ``seed=0``.

    Raises
    ------
    SettingsError
        If not exactly one of `noise_model` and `gaussian_sigma` is given, or a training
        option is out of range.
    InputError, ModelFileError
        If `noise_model` is neither a noise model nor the path of a noise-model file.

    Examples
    --------
    >>> from napari_divnoising import DivNoising, make_sample_data
    >>> data = make_sample_data(shape=(64, 64))
    >>> denoiser = DivNoising(gaussian_sigma=10.0, patch_size=32, max_epochs=1, steps_per_epoch=2)
    >>> denoiser.fit(data.noisy).mmse(data.noisy[0], n_samples=4).shape
    (64, 64)
    """

    def __init__(
        self,
        noise_model: NoiseModel | str | os.PathLike[str] | None = None,
        *,
        gaussian_sigma: float | None = None,
        network_config: Any = None,
        device: str = "auto",
        **training_options: Any,
    ) -> None:
        from .core.model.config import TrainingConfig
        from .core.model.likelihood import check_likelihood_choice
        from .core.model_files.resolve import as_noise_model

        # Without a likelihood nothing can be trained: say so now, not at fit().
        self.noise_model = as_noise_model(noise_model)
        check_likelihood_choice(self.noise_model, gaussian_sigma)
        self.gaussian_sigma = gaussian_sigma
        self.network_config = network_config
        self.device = device
        # Validate the options now, not after minutes of work.
        self.training_config = TrainingConfig(**training_options)
        self.model: TrainedModel | None = None

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> DivNoising:
        """Load a model saved with :meth:`save` (or by the plugin or command line).

        Parameters
        ----------
        path : str or PathLike
            A ``.divnoising`` model file.
        device : str
            Where to run it.

        Returns
        -------
        DivNoising
            Ready to :meth:`sample`, or to :meth:`fit` further.

        Raises
        ------
        InputError
            If `path` is not a str or path-like.
        ModelFileError
            If there is no file at `path`, or it is not a readable model.
        """
        from .core.model.device import select_device
        from .core.model_files.bundle import load_model
        from .core.model_files.resolve import as_model_path

        path = as_model_path(path, name="path")
        model = load_model(path, device=select_device(device).device)
        denoiser = cls(model.noise_model, gaussian_sigma=model.gaussian_sigma, device=device)
        denoiser.training_config = model.training_config
        denoiser.network_config = model.network_config
        denoiser.model = model
        return denoiser

    def fit(
        self,
        images: np.ndarray | Sequence[np.ndarray],
        *,
        progress: Callable[[object], None] | None = None,
    ) -> DivNoising:
        """Train on noisy images; continue from the current model if there is one.

        Parameters
        ----------
        images : ndarray or sequence of ndarray
            Noisy 2D images or stacks of independent planes, in raw camera units.
        progress : callable, optional
            Called with every training event.

        Returns
        -------
        DivNoising
            ``self``, trained.
        """
        from .core.training.trainer import train

        self.model = train(
            images,
            noise_model=self.noise_model if self.model is None else None,
            gaussian_sigma=self.gaussian_sigma if self.model is None else None,
            config=self.training_config,
            network_config=self.network_config,
            device=self.device,
            initial_model=self.model,
            progress=progress,
        )
        return self

    def _trained(self) -> TrainedModel:
        if self.model is None:
            raise RuntimeError(
                "the model is not trained yet: call fit(images) or DivNoising.load(path)"
            )
        return self.model

    def sample(self, image: np.ndarray, **options: Any) -> Prediction:
        """Draw posterior samples of `image`; return MMSE, MAP, uncertainty and samples.

        Parameters
        ----------
        image : ndarray
            A noisy 2D image or stack, in raw camera units.
        **options
            Keyword options of :func:`~napari_divnoising.core.prediction.sampling.sample_posterior`
            (``n_samples``, ``keep_samples``, ``map_estimate``, ``uncertainty``,
            ``interval`` (e.g. 0.9: also the bounds ``lower``/``upper`` of the 90%
            interval), ``calibrate_uncertainty``, ``tta``, ``tile_size``, ``seed``,
            ``progress``).

        Returns
        -------
        Prediction
            The results, in raw intensity units.
        """
        from .core.prediction.config import sampling_config
        from .core.prediction.recipe import predict

        progress, device = options.pop("progress", None), options.pop("device", self.device)
        settings = sampling_config(**options)
        return predict(image, self._trained(), settings, device=device, progress=progress)

    def predict_to_zarr(
        self, image: Any, folder: str | os.PathLike, **options: Any
    ) -> StackPrediction:
        """Denoise a stack of any size into OME-Zarr images, plane by plane, resumably.

        Parameters
        ----------
        image : path-like or array
            A TIFF, zarr / OME-Zarr store or folder of images (read lazily), or a numpy
            or dask array.
        folder : path-like
            Where ``<stem>_mmse.ome.zarr`` (and the other results) are written.
        **options
            Keyword options of
            :func:`~napari_divnoising.core.prediction.to_zarr.iter_predict_to_zarr`
            (``axes``, ``scheduler``, ``n_workers``, ``overwrite``, ``n_samples``,
            ``seed``, ``progress``, …).

        Returns
        -------
        StackPrediction
            The images written, and how many planes this call computed.
        """
        from .core.prediction.config import sampling_config
        from .core.prediction.recipe import ZarrTarget, predict

        progress, device = options.pop("progress", None), options.pop("device", self.device)
        axes = options.pop("axes", None)
        where = {key: options.pop(key) for key in _ZARR_TARGET_KEYS if key in options}
        target = ZarrTarget(folder, **where)
        settings = sampling_config(**options)
        return predict(
            image,
            self._trained(),
            settings,
            target=target,
            axes=axes,
            device=device,
            progress=progress,
        )

    def export_bioimageio(
        self, path: str | os.PathLike, test_image: np.ndarray, **options: Any
    ) -> Path:
        """Write the trained model as a bioimage.io model package (needs the extra).

        Parameters
        ----------
        path : path-like
            The ``.zip`` to write.
        test_image : ndarray
            Noisy data of your own; its centre becomes the package's test tile and cover.
        **options
            ``license`` (SPDX, required), ``authors`` (list of names, required), ``name``,
            ``n_samples``, ``seed``: see
            :func:`~napari_divnoising.core.model_files.bioimageio.export_bioimageio`.

        Returns
        -------
        Path
            The package written.
        """
        from .core.model_files.bioimageio import export_bioimageio

        return export_bioimageio(self._trained(), test_image, path, **options)

    def mmse(self, image: np.ndarray, *, n_samples: int = 100, **options: Any) -> np.ndarray:
        """Return the MMSE estimate (mean of `n_samples` posterior samples) of `image`."""
        return self.sample(image, n_samples=n_samples, **options).mmse

    def map(self, image: np.ndarray, *, n_samples: int = 100, **options: Any) -> np.ndarray:
        """Return the MAP estimate (mode of `n_samples` posterior samples) of `image`."""
        return self.sample(image, n_samples=n_samples, map_estimate=True, **options).map

    def save(self, path: str | os.PathLike) -> None:
        """Save the trained model (weights, configuration, noise model, history) to one file."""
        from .core.model_files.bundle import save_model

        save_model(self._trained(), path)

    @property
    def history(self) -> list[dict]:
        """The per-epoch losses of the training so far."""
        return [] if self.model is None else list(self.model.history)
