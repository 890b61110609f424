"""The settings form of the training widget: data, likelihood, training and architecture."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, FloatSpinBox, Select, SpinBox

from napari_divnoising.core.config import (
    BUDGET_DEFAULTS,
    BUDGET_NETWORK_DEFAULTS,
    NetworkConfig,
    TrainingConfig,
)
from napari_divnoising.core.validation import ImageError

from ._layers import data_layer_choices, layer_image

if TYPE_CHECKING:
    import napari

__all__ = ["FROM_WIDGET", "GAUSSIAN", "TrainingForm"]

FROM_WIDGET, FROM_FILE, GAUSSIAN = "from the noise model widget", "from a file", "none (Gaussian)"
LAYERS, FOLDER = "image layers", "a folder of TIFF/.npy files"


def _spin(label: str, value: int, low: int, high: int, tip: str, step: int = 1) -> SpinBox:
    return SpinBox(label=label, value=value, min=low, max=high, step=step, tooltip=tip)


class TrainingForm:
    """magicgui widgets for every training setting, and their translation to core configs.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers can be trained on.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        defaults, network = TrainingConfig(), NetworkConfig()
        self.source = ComboBox(label="images from", choices=[LAYERS, FOLDER], value=LAYERS)
        self.layers = Select(label="image layers", choices=data_layer_choices(viewer))
        self.layers.tooltip = "Noisy images (2D or stacks); ctrl-click to pick several"
        self.folder = FileEdit(label="folder", mode="d", visible=False)
        self.noise_model_source = ComboBox(
            label="noise model", choices=[FROM_WIDGET, FROM_FILE, GAUSSIAN], value=FROM_WIDGET
        )
        self.noise_model_file = FileEdit(
            label="noise model file", mode="r", filter="*.npz *.npy", visible=False
        )
        self.gaussian_sigma = FloatSpinBox(
            label="noise σ",
            value=10.0,
            min=1e-3,
            max=1e6,
            step=0.1,
            visible=False,
            tooltip="Standard deviation of Gaussian noise in raw units (without a noise model)",
        )
        self.train_percent = _spin(
            "training %",
            round(100 * defaults.train_fraction),
            1,
            100,
            "Percentage of the images (planes) used for training; the rest validates",
        )
        self.patch_size = _spin(
            "patch size",
            defaults.patch_size,
            8,
            2048,
            "Side of the square training patches",
            step=8,
        )
        self.batch_size = _spin("batch size", defaults.batch_size, 1, 4096, "Patches per step")
        self.max_epochs = _spin("max epochs", defaults.max_epochs, 1, 100_000, "Epochs at most")
        self.patience = _spin(
            "patience",
            defaults.early_stopping_patience,
            1,
            100_000,
            "Stop after this many epochs without a better validation loss",
        )
        self.learning_rate = FloatSpinBox(
            label="learning rate",
            value=defaults.learning_rate,
            min=1e-6,
            max=1.0,
            step=1e-5,
            tooltip="Initial Adam learning rate",
        )
        self.seed = _spin(
            "seed", 0, 0, 2**31 - 1, "Same seed, data and settings: same model (CPU)"
        )
        self.time_budget = FloatSpinBox(
            label="time budget (min)",
            value=0.0,
            min=0.0,
            max=1e5,
            step=1.0,
            tooltip="Stop after this many minutes and keep the best model (0: no limit). "
            "Setting it switches untouched patch size, batch size and learning rate to "
            "values that learn faster per second",
        )
        self.main = Container(
            widgets=[
                self.source,
                self.layers,
                self.folder,
                self.noise_model_source,
                self.noise_model_file,
                self.gaussian_sigma,
                self.train_percent,
                self.patch_size,
                self.batch_size,
                self.max_epochs,
                self.time_budget,
                self.patience,
                self.learning_rate,
                self.seed,
            ]
        )
        self.steps_per_epoch = _spin("steps per epoch", 0, 0, 1_000_000, "0: cover the data once")
        self.depth = _spin("depth", network.depth, 1, 5, "Down-sampling levels of the VAE")
        self.n_filters = _spin("filters", network.n_filters, 1, 512, "Filters of the first level")
        self.z_dim = _spin(
            "latent channels", network.z_dim, 1, 1024, "Channels of the latent code"
        )
        self.device = ComboBox(
            label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto"
        )
        self.advanced = Container(
            widgets=[
                self.steps_per_epoch,
                self.depth,
                self.n_filters,
                self.z_dim,
                self.device,
            ]
        )
        self.source.changed.connect(self._update_visibility)
        self.noise_model_source.changed.connect(self._update_visibility)
        self.time_budget.changed.connect(self._apply_budget_defaults)

    def _apply_budget_defaults(self, minutes: float) -> None:
        # The core's faster settings for a time budget, shown in the form (not applied
        # silently) and only where the user kept the reference defaults.
        if minutes <= 0:
            return
        for defaults, reference in (
            (BUDGET_DEFAULTS, TrainingConfig()),
            (BUDGET_NETWORK_DEFAULTS, NetworkConfig()),
        ):
            for name, value in defaults.items():
                if getattr(self, name).value == getattr(reference, name):
                    getattr(self, name).value = value

    def _update_visibility(self) -> None:
        self.layers.visible = self.source.value == LAYERS
        self.folder.visible = self.source.value == FOLDER
        self.noise_model_file.visible = self.noise_model_source.value == FROM_FILE
        self.gaussian_sigma.visible = self.noise_model_source.value == GAUSSIAN

    def training_config(self) -> TrainingConfig:
        """Return the training settings (pydantic checks the limits)."""
        return TrainingConfig(
            patch_size=self.patch_size.value,
            train_fraction=self.train_percent.value / 100,
            batch_size=self.batch_size.value,
            max_epochs=self.max_epochs.value,
            early_stopping_patience=self.patience.value,
            learning_rate=self.learning_rate.value,
            seed=self.seed.value,
            time_budget_minutes=self.time_budget.value or None,
            steps_per_epoch=self.steps_per_epoch.value or None,
        )

    def network_config(self) -> NetworkConfig:
        """Return the architecture settings."""
        return NetworkConfig(
            depth=self.depth.value, n_filters=self.n_filters.value, z_dim=self.z_dim.value
        )

    def images(self) -> list[np.ndarray]:
        """Return the noisy images the user picked, each checked; raise ImageError if none."""
        if self.source.value == FOLDER:
            from napari_divnoising.core.io import IMAGE_SUFFIXES, read_image

            folder = Path(self.folder.value)
            paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not folder.is_dir() or not paths:
                raise ImageError(f"no .tif, .tiff or .npy images found in folder {str(folder)!r}")
            return [read_image(path) for path in paths]
        if not self.layers.value:
            raise ImageError("No image layer chosen: pick one or more noisy images to train on")
        return [layer_image(layer, role="noisy image") for layer in self.layers.value]
