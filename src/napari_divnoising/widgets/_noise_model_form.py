"""The settings form of the noise-model widget: where the pairs come from, and fit settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FileEdit, LineEdit, SpinBox

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.noise_model.calibration import MIN_CALIBRATION_FRAMES
from napari_divnoising.core.noise_model.fitting import resolve_settings
from napari_divnoising.core.noise_model.settings import NoiseModelSettings

from ._fields import setting_widget
from ._layers import (
    data_layer_choices,
    image_layers,
    layer_image,
    n_planes,
    noisy_candidates,
    result_kind,
)

if TYPE_CHECKING:
    import napari

__all__ = [
    "BOOTSTRAP",
    "CALIBRATION_FILES",
    "CALIBRATION_LAYER",
    "DENOISED",
    "LOAD",
    "NoiseModelForm",
]

CALIBRATION_LAYER = "calibration frames (layer)"
CALIBRATION_FILES = "calibration frames (files)"
BOOTSTRAP = "bootstrap from a noisy layer"
DENOISED = "noisy layer + your denoised layer"
LOAD = "load a file (.npz / .npy)"
SOURCE_TIP = (
    "Calibration: many frames of a static sample (signal = their mean; best). Bootstrap: a "
    "pseudo ground truth made from the noisy images by BM3D (no calibration data needed). "
    "Denoised: a pseudo ground truth you made yourself with any denoiser you trust. Load: "
    "a noise model file, ours or the reference notebooks'."
)


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
            choices=[CALIBRATION_LAYER, CALIBRATION_FILES, BOOTSTRAP, DENOISED, LOAD],
            value=CALIBRATION_LAYER,
            tooltip=SOURCE_TIP,
        )
        self.layer = ComboBox(
            label="layer",
            choices=data_layer_choices(viewer),
            tooltip="Calibration: a stack (T, Y, X) of at least 10 frames of a static sample. "
            "Bootstrap or denoised: the noisy images, in raw camera units.",
        )
        self.denoised = ComboBox(
            label="denoised layer",
            choices=data_layer_choices(viewer),
            visible=False,
            tooltip="Your denoised version of the noisy layer (same shape), from any "
            "denoiser you trust; it is used as the signal of the pairs.",
        )
        self.subset = SpinBox(
            label="planes used (%)",
            value=100,
            min=1,
            max=100,
            visible=False,
            tooltip="Bootstrap from this share of the noisy layer's planes (evenly spread, "
            "at least one): BM3D takes about 10 s per 512×512 plane.",
        )
        self.name = LineEdit(
            label="name",
            tooltip="What to call this noise model (shown in the other docks, used as the "
            "default file name when saving); empty: named after its data.",
        )
        self.files = FileEdit(
            label="stacks",
            mode="rm",
            filter="*.tif *.tiff *.npy",
            visible=False,
            tooltip="TIFF or .npy stacks (T, Y, X) of at least 10 frames of a static sample",
        )
        self.model_file = FileEdit(
            label="file",
            mode="r",
            filter="*.npz *.npy",
            visible=False,
            tooltip="A noise model file: ours, or the reference DivNoising/PPN2V notebooks'",
        )
        self.kind = setting_widget(
            NoiseModelSettings,
            "kind",
            label="kind",
            choices=[("Gaussian mixture (GMM)", "gmm"), ("histogram", "histogram")],
        )
        self.main = Container(
            widgets=[
                self.source,
                self.layer,
                self.denoised,
                self.subset,
                self.files,
                self.model_file,
                self.kind,
                self.name,
            ]
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
        self._picked_stack: Any = None  # the calibration stack chosen for the user

    def _update_visibility(self) -> None:
        source, gmm = self.source.value, self.kind.value == "gmm"
        self.layer.visible = source in (CALIBRATION_LAYER, BOOTSTRAP, DENOISED)
        self.denoised.visible = source == DENOISED
        self.subset.visible = source == BOOTSTRAP
        self.files.visible = source == CALIBRATION_FILES
        self.model_file.visible = source == LOAD
        self.kind.visible = source != LOAD
        for widget in (self.n_gaussian, self.n_coeff, self.min_sigma, self.n_iterations):
            widget.visible = gmm
        self.bins.visible = not gmm

    def pick_defaults(self, viewer: napari.viewer.Viewer) -> str:
        """Choose layers where the current choice does not suit the source.

        Calibration takes the stack with the most frames (at least
        :data:`MIN_CALIBRATION_FRAMES`); bootstrap the active noisy layer. Returns what is
        missing, with the fix, or "".
        """
        source = self.source.value
        if source == CALIBRATION_LAYER:
            stacks = [
                layer
                for layer in image_layers(viewer, results=False)
                if n_planes(layer) >= MIN_CALIBRATION_FRAMES
            ]
            if stacks and self.layer.value not in stacks:
                self.layer.value = max(stacks, key=n_planes)
                self._picked_stack = self.layer.value
            if stacks:
                return ""
            return (
                f"No layer has the {MIN_CALIBRATION_FRAMES} or more frames of a static sample "
                "that calibration needs: open them (File ▸ Open Sample ▸ DivNoising ▸ "
                "Calibration frames shows an example), or choose 'bootstrap from a noisy "
                "layer' as the source."
            )
        if source not in (BOOTSTRAP, DENOISED):
            return ""
        candidates = noisy_candidates(viewer)
        if not candidates:
            return "No noisy image layer yet: open your noisy images first."
        # The stack picked for calibration is rarely the images to bootstrap from.
        others = [layer for layer in candidates if layer is not self._picked_stack]
        if self.layer.value not in candidates or self.layer.value is self._picked_stack:
            self.layer.value = (others or candidates)[0]
        if source == DENOISED:
            denoised = [
                layer
                for layer in image_layers(viewer)
                if result_kind(layer) in ("mmse", "restored") or "denois" in layer.name.lower()
            ]
            denoised = [layer for layer in denoised if layer is not self.layer.value]
            if self.denoised.value in (None, self.layer.value) and denoised:
                self.denoised.value = denoised[-1]
            if not denoised and self.denoised.value in (None, self.layer.value):
                return "Choose the denoised layer: your own denoising of the noisy layer."
        return ""

    def fit_settings(self) -> NoiseModelSettings:
        """Return the settings of the fit as the form shows them (checked by the model)."""
        values: dict[str, Any] = {
            "kind": self.kind.value,
            "seed": self.seed.value,
            "name": self.name.value.strip() or None,
        }
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
        settings = self.fit_settings()
        kind = "GMM" if settings.kind == "gmm" else "histogram"
        job, label = self._job(settings, kind)
        return job, self.name.value.strip() or label

    def _job(self, settings: NoiseModelSettings, kind: str) -> tuple[Any, str]:
        from napari_divnoising.core.noise_model.recipe import iter_make_noise_model

        source, layer = self.source.value, self.layer.value
        if source == BOOTSTRAP:
            images = layer_image(layer, role="noisy image", min_size=16)
            subset = self.subset.value / 100
            job = iter_make_noise_model(
                images, source="bootstrap", settings=settings, subset=subset
            )
            share = "" if subset == 1 else f" ({self.subset.value}% of its planes)"
            return job, f"{kind} bootstrapped from '{layer.name}'{share}"
        if source == DENOISED:
            images = layer_image(layer, role="noisy image")
            clean = layer_image(self.denoised.value, role="denoised image")
            if self.denoised.value is layer:
                raise InputError("Choose a denoised layer other than the noisy layer itself")
            job = iter_make_noise_model(
                images, source="denoised", denoised=clean, settings=settings
            )
            return job, f"{kind} from '{layer.name}' and '{self.denoised.value.name}'"
        if source == CALIBRATION_LAYER:
            stacks: Any = layer_image(layer, role="calibration stack")
            job = iter_make_noise_model(stacks, settings=settings, names=[f"'{layer.name}'"])
            return job, f"{kind} calibrated on '{layer.name}'"
        stacks = [Path(path) for path in self.files.value]
        names = [f"'{Path(path).name}'" for path in stacks]
        job = iter_make_noise_model(stacks, settings=settings, names=names)
        return job, f"{kind} calibrated on {len(stacks)} file(s)"
