"""The settings form of the training widget: data, likelihood, training and architecture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Select,
    SpinBox,
)

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.model.config import (
    BUDGET_DEFAULTS,
    BUDGET_NETWORK_DEFAULTS,
    DirectConfig,
    NetworkConfig,
    TrainingConfig,
)

from ._fields import setting_widget
from ._layers import (
    data_layer_choices,
    layer_image,
    noisy_candidates,
    upgrade_from_calibration,
)

if TYPE_CHECKING:
    import napari

__all__ = ["FROM_WIDGET", "GAUSSIAN", "TrainingForm"]

FROM_WIDGET, FROM_FILE, GAUSSIAN = "from the noise model widget", "from a file", "none (Gaussian)"
LAYERS, FOLDER = "image layers", "a folder of TIFF/.npy files"
#: Height of the training layer list (pixels): about six rows.
LAYER_LIST_HEIGHT = 120


def _training_field(name: str, label: str, **options: Any) -> Any:
    return setting_widget(TrainingConfig, name, label=label, **options)


def _network_field(name: str, label: str, **options: Any) -> Any:
    return setting_widget(NetworkConfig, name, label=label, **options)


class TrainingForm:
    """magicgui widgets for every training setting, and their translation to core configs.

    Defaults, limits and tooltips come from :class:`TrainingConfig` and
    :class:`NetworkConfig` wherever a widget is one of their fields.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers can be trained on.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._add_data_fields(viewer)
        self._add_likelihood_fields()
        self._add_training_fields()
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
                self.preset,
                self.patience,
                self.learning_rate,
                self.seed,
            ]
        )
        # The list's row, not only the list: a tall dock squeezes rows, not their minimum.
        self.layers.native.parentWidget().setMinimumHeight(LAYER_LIST_HEIGHT)
        self.layers.native.setMinimumHeight(LAYER_LIST_HEIGHT)
        self._add_advanced_fields()
        self.source.changed.connect(self._update_visibility)
        self.noise_model_source.changed.connect(self._update_visibility)
        self.time_budget.changed.connect(self._apply_budget_defaults)
        self.preset.changed.connect(self._apply_preset)

    def _add_data_fields(self, viewer: napari.viewer.Viewer) -> None:
        self.source = ComboBox(
            label="images from",
            choices=[LAYERS, FOLDER],
            value=LAYERS,
            tooltip="Train on image layers of the viewer, or on every TIFF/.npy file of a "
            "folder (read plane by plane, any size)",
        )
        self.layers = Select(
            label="image layers", choices=data_layer_choices(viewer, results=False)
        )
        self.layers.tooltip = (
            "Noisy images (2D or stacks), in raw camera units; ctrl-click to pick several. "
            "The plugin's own results are not offered."
        )
        self.layers.native.setStyleSheet(
            "QListWidget::item:selected { background: #3d6fb6; color: white; }"
        )
        self.folder = FileEdit(
            label="folder",
            mode="d",
            visible=False,
            tooltip="A folder of noisy TIFF or .npy images from one camera, in raw units",
        )

    def _add_likelihood_fields(self) -> None:
        self.noise_model_source = ComboBox(
            label="noise model",
            choices=[FROM_WIDGET, FROM_FILE, GAUSSIAN],
            value=FROM_WIDGET,
            tooltip="The camera noise model p(x|s) the network's decoder uses: the one made "
            "in step 1, a saved file, or none (Gaussian noise of one σ; worse on photon "
            "noise)",
        )
        self.noise_model_file = FileEdit(
            label="noise model file",
            mode="r",
            filter="*.npz *.npy",
            visible=False,
            tooltip="A noise model file: ours, or the reference DivNoising/PPN2V notebooks'",
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

    def _add_training_fields(self) -> None:
        # The form shows a percentage of `train_fraction`.
        self.train_percent = SpinBox(
            label="training %",
            value=round(100 * TrainingConfig().train_fraction),
            min=1,
            max=100,
            tooltip="Percentage of the images (planes) used for training; the rest validates",
        )
        self.patch_size = _training_field("patch_size", "patch size", step=8)
        self.batch_size = _training_field("batch_size", "batch size")
        self.max_epochs = _training_field("max_epochs", "max epochs")
        self.patience = _training_field("early_stopping_patience", "patience")
        self.learning_rate = _training_field("learning_rate", "learning rate", step=1e-5)
        # The form always seeds (0 by default), so that a run can be repeated.
        self.seed = _training_field(
            "seed", "seed", tooltip="Same seed, data and settings: same model (CPU)"
        )
        self.seed.value = 0
        self.time_budget = _training_field(
            "time_budget_minutes",
            "time budget (min)",
            unset_as=0,
            step=1.0,
            tooltip="Stop after this many minutes and keep the best model (0: no limit). "
            "Setting it switches untouched patch size, batch size and learning rate to "
            "values that learn faster per second",
        )
        self.preset = _training_field("preset", "settings")

    def _add_advanced_fields(self) -> None:
        self.steps_per_epoch = _training_field("steps_per_epoch", "steps per epoch", unset_as=0)
        self.depth = _network_field("depth", "depth")
        self.n_filters = _network_field("n_filters", "filters")
        self.z_dim = _network_field("z_dim", "latent channels")
        self.device = ComboBox(
            label="device",
            choices=["auto", "cpu", "cuda", "mps"],
            value="auto",
            tooltip="Where to train: auto takes a CUDA or Apple GPU when there is one, "
            "else the CPU",
        )
        self.direct = CheckBox(
            text="then a direct network (a fast MMSE)",
            value=False,
            tooltip="After the VAE, train a direct network from its posterior: the Sampling "
            "dock's 'direct MMSE' then gives the MMSE in one pass, dozens of times faster",
        )
        self.direct_minutes = FloatSpinBox(
            label="direct network (min)",
            value=DirectConfig().time_budget_minutes,
            min=0.1,
            max=24 * 60,
            tooltip="Training time of the direct network, after the VAE's",
        )
        self.advanced = Container(
            widgets=[
                self.steps_per_epoch,
                self.depth,
                self.n_filters,
                self.z_dim,
                self.device,
                self.direct,
                self.direct_minutes,
            ]
        )

    def _apply_budget_defaults(self, minutes: float) -> None:
        # The core's faster settings for a time budget, shown in the form (not applied
        # silently) and only where the user kept the reference defaults.
        if minutes <= 0 or self.preset.value == "reference":
            return
        for defaults, reference in (
            (BUDGET_DEFAULTS, TrainingConfig()),
            (BUDGET_NETWORK_DEFAULTS, NetworkConfig()),
        ):
            for name, value in defaults.items():
                if getattr(self, name).value == getattr(reference, name):
                    getattr(self, name).value = value

    def _apply_preset(self, preset: str) -> None:
        if preset == "auto":
            self._apply_budget_defaults(self.time_budget.value)
            return
        for reference in (TrainingConfig(), NetworkConfig()):
            names = (
                BUDGET_DEFAULTS
                if isinstance(reference, TrainingConfig)
                else BUDGET_NETWORK_DEFAULTS
            )
            for name in names:
                getattr(self, name).value = getattr(reference, name)

    def _update_visibility(self) -> None:
        self.layers.visible = self.source.value == LAYERS
        self.folder.visible = self.source.value == FOLDER
        self.noise_model_file.visible = self.noise_model_source.value == FROM_FILE
        self.gaussian_sigma.visible = self.noise_model_source.value == GAUSSIAN

    def direct_config(self) -> DirectConfig | None:
        """Return the direct network's settings when one is asked for, else None."""
        if not self.direct.value:
            return None
        return DirectConfig(time_budget_minutes=self.direct_minutes.value)

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
            preset=self.preset.value,
            steps_per_epoch=self.steps_per_epoch.value or None,
        )

    def network_config(self) -> NetworkConfig:
        """Return the architecture settings."""
        return NetworkConfig(
            depth=self.depth.value, n_filters=self.n_filters.value, z_dim=self.z_dim.value
        )

    def pick_defaults(self, viewer: napari.viewer.Viewer) -> str:
        """Select the active noisy layer unless the user chose some; return what is missing."""
        if self.source.value != LAYERS:
            return ""
        candidates = noisy_candidates(viewer)
        if not candidates:
            return "No noisy image layer yet: open the images to train on."
        chosen = list(self.layers.value)
        picked_here = chosen == getattr(self, "_picked", None)  # not the user's own choice
        if not chosen or (picked_here and upgrade_from_calibration(chosen[0], candidates, viewer)):
            # Calibration frames opened first give way to the noisy data opened next.
            self.layers.value = self._picked = [candidates[0]]
        return ""

    def images(self) -> list[np.ndarray]:
        """Return the noisy images the user picked, each checked; raise InputError if none."""
        if self.source.value == FOLDER:
            from napari_divnoising.core.io import image_files, read_image

            return [read_image(path) for path in image_files(self.folder.value)]
        if not self.layers.value:
            raise InputError("No image layer chosen: pick one or more noisy images to train on")
        return [layer_image(layer, role="noisy image") for layer in self.layers.value]
