"""The settings form of the noise-model widget: where the pairs come from, and fit settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FileEdit, FloatSpinBox, SpinBox

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
        self.n_gaussian = SpinBox(label="Gaussians", value=3, min=1, max=10)
        self.n_coeff = SpinBox(
            label="coefficients",
            value=2,
            min=1,
            max=5,
            tooltip="Polynomial coefficients per parameter (2: linear in the signal)",
        )
        self.min_sigma = FloatSpinBox(
            label="variance floor",
            value=0.0,
            min=0.0,
            max=1e9,
            step=0.1,
            tooltip="Lower bound on each Gaussian's variance, in squared intensity units "
            "(0: derived from the data)",
        )
        self.n_iterations = SpinBox(label="iterations", value=2000, min=1, max=1_000_000)
        self.bins = SpinBox(
            label="bins",
            value=0,
            min=0,
            max=4096,
            visible=False,
            tooltip="Histogram bins per axis (0: derived from the data)",
        )
        self.seed = SpinBox(label="seed", value=0, min=0, max=2**31 - 1)
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

    def fit_settings(self) -> dict[str, Any]:
        """Keyword arguments for ``iter_fit_noise_model``."""
        settings: dict[str, Any] = {"kind": self.kind.value, "seed": self.seed.value}
        if self.kind.value == "gmm":
            settings |= {
                "n_gaussian": self.n_gaussian.value,
                "n_coeff": self.n_coeff.value,
                "min_sigma": self.min_sigma.value or None,
                "n_iterations": self.n_iterations.value,
            }
        else:
            settings["bins"] = self.bins.value or None
        return settings

    def noise_pairs(self) -> tuple[Any, str]:
        """Return the (signal, observation) pairs, or a generator of them, and a label.

        Calibration pairs are made now (quick, and it checks the frames); bootstrapping
        takes seconds per image, so it is returned as a generator for a worker.
        """
        kind = "GMM" if self.kind.value == "gmm" else "histogram"
        if self.source.value == BOOTSTRAP:
            from napari_divnoising.core.bootstrap import iter_bootstrap_pairs

            images = layer_image(self.layer.value, role="noisy image", min_size=16)
            return iter_bootstrap_pairs(
                images
            ), f"{kind} bootstrapped from '{self.layer.value.name}'"
        from napari_divnoising.core.calibration import calibration_pairs

        if self.source.value == CALIBRATION_LAYER:
            stacks: Any = layer_image(self.layer.value, role="calibration stack")
            label = f"{kind} calibrated on '{self.layer.value.name}'"
        else:
            stacks = [Path(path) for path in self.files.value]
            label = f"{kind} calibrated on {len(stacks)} file(s)"
        return calibration_pairs(stacks), label
