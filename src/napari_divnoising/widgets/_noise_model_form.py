"""The settings form of the noise-model widget: where the pairs come from, and fit settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FileEdit

from napari_divnoising.core.noise_model.fitting import resolve_settings
from napari_divnoising.core.noise_model.settings import NoiseModelSettings

from ._fields import setting_widget
from ._layers import data_layer_choices, layer_image

if TYPE_CHECKING:
    import napari

__all__ = ["BOOTSTRAP", "CALIBRATION_FILES", "CALIBRATION_LAYER", "LOAD", "NoiseModelForm"]

CALIBRATION_LAYER = "calibration frames (layer)"
CALIBRATION_FILES = "calibration frames (files)"
BOOTSTRAP = "bootstrap from a noisy layer"
LOAD = "load a file (.npz / .npy)"


class NoiseModelForm:
    """magicgui widgets for the noise model's source and fit settings.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers can be calibration frames or noisy images.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self.source = ComboBox(
            label="source",
            choices=[CALIBRATION_LAYER, CALIBRATION_FILES, BOOTSTRAP, LOAD],
            value=CALIBRATION_LAYER,
            tooltip="Calibration: many frames of a static sample (signal = their mean). "
            "Bootstrap: a pseudo ground truth from the noisy images by BM3D.",
        )
        self.layer = ComboBox(label="layer", choices=data_layer_choices(viewer))
        self.files = FileEdit(
            label="stacks", mode="rm", filter="*.tif *.tiff *.npy", visible=False
        )
        self.model_file = FileEdit(label="file", mode="r", filter="*.npz *.npy", visible=False)
        self.kind = ComboBox(
            label="kind",
            choices=[("Gaussian mixture (GMM)", "gmm"), ("histogram", "histogram")],
            value="gmm",
        )
        self.main = Container(
            widgets=[self.source, self.layer, self.files, self.model_file, self.kind]
        )
        self.n_gaussian = setting_widget(NoiseModelSettings, "n_gaussian", label="Gaussians")
        self.n_coeff = setting_widget(NoiseModelSettings, "n_coeff", label="coefficients")
        self.min_sigma = setting_widget(
            NoiseModelSettings, "min_sigma", label="variance floor", unset_as=0.0, step=0.1
        )
        self.n_iterations = setting_widget(NoiseModelSettings, "n_iterations", label="iterations")
        self.bins = setting_widget(
            NoiseModelSettings, "bins", label="bins", unset_as=0, visible=False
        )
        self.seed = setting_widget(NoiseModelSettings, "seed", label="seed")
        self.advanced = Container(
            widgets=[
                self.n_gaussian,
                self.n_coeff,
                self.min_sigma,
                self.n_iterations,
                self.bins,
                self.seed,
            ]
        )
        self.source.changed.connect(self._update_visibility)
        self.kind.changed.connect(self._update_visibility)

    def _update_visibility(self) -> None:
        source, gmm = self.source.value, self.kind.value == "gmm"
        self.layer.visible = source in (CALIBRATION_LAYER, BOOTSTRAP)
        self.files.visible = source == CALIBRATION_FILES
        self.model_file.visible = source == LOAD
        self.kind.visible = source != LOAD
        for widget in (self.n_gaussian, self.n_coeff, self.min_sigma, self.n_iterations):
            widget.visible = gmm
        self.bins.visible = not gmm

    def fit_settings(self) -> NoiseModelSettings:
        """Return the settings of the fit as the form shows them (checked by the model)."""
        values: dict[str, Any] = {"kind": self.kind.value, "seed": self.seed.value}
        if self.kind.value == "gmm":
            values |= {
                "n_gaussian": self.n_gaussian.value,
                "n_coeff": self.n_coeff.value,
                "min_sigma": self.min_sigma.value or None,
                "n_iterations": self.n_iterations.value,
            }
        else:
            values["bins"] = self.bins.value or None
        return resolve_settings(**values)

    def make_job(self) -> tuple[Any, str]:
        """Return the noise-model job (inputs already checked) and a label for its model.

        Calibration frames are averaged now (quick, and it checks them); bootstrapping
        takes seconds per image, so it runs in the job.
        """
        from napari_divnoising.core.noise_model.recipe import iter_make_noise_model

        settings = self.fit_settings()
        kind = "GMM" if settings.kind == "gmm" else "histogram"
        if self.source.value == BOOTSTRAP:
            images = layer_image(self.layer.value, role="noisy image", min_size=16)
            job = iter_make_noise_model(images, source="bootstrap", settings=settings)
            return job, f"{kind} bootstrapped from '{self.layer.value.name}'"
        if self.source.value == CALIBRATION_LAYER:
            stacks: Any = layer_image(self.layer.value, role="calibration stack")
            label = f"{kind} calibrated on '{self.layer.value.name}'"
        else:
            stacks = [Path(path) for path in self.files.value]
            label = f"{kind} calibrated on {len(stacks)} file(s)"
        return iter_make_noise_model(stacks, settings=settings), label
