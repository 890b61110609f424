"""Quality-control dock widget: SSIM and RSE maps, a score table, and a model's loss curves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, PushButton
from qtpy.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem

from napari_divnoising.core.quality.recipe import QualityResult, iter_quality_control

from ._base import DockWidget
from ._layers import (
    data_layer_choices,
    image_layers,
    is_result,
    layer_image,
    looks_like_ground_truth,
    push_image,
    result_kind,
    result_source,
)
from ._lazy_layers import plane_name
from ._loss_plot import LossPlot
from ._workers import guarded

if TYPE_CHECKING:
    import napari

__all__ = ["QualityControlWidget"]

_ROWS = ("SSIM", "NRMSE", "PSNR (dB)")
#: Results offered as the prediction, best first.
PREFERRED = ("mmse", "restored", "map")
COVERAGE_TIP = (
    "Optional: the prediction's uncertainty layer (its posterior standard deviation); the "
    "dock then shows how often the ground truth lies in each central interval "
    "prediction ± z·uncertainty. A calibrated uncertainty holds it about as often as the "
    "interval's probability says. A ground truth averaged from few frames is itself noisy "
    "and makes the coverage look lower than it is."
)


def coverage_text(coverage: dict[float, float]) -> str:
    """Return the coverage line of the dock: observed against nominal, per interval."""
    if not coverage:
        return ""
    cells = " · ".join(f"{level:.0%}: {value:.1%}" for level, value in coverage.items())
    return f"ground truth inside the intervals (nominal: observed) — {cells}"


class QualityControlWidget(DockWidget):
    """Compare a prediction with a ground truth; show a trained model's loss curves.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are scored.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(viewer)
        self.add_guide(
            4,
            "Quality control (optional)",
            "Needs a ground truth (a clean image of the same scene): scores a result of "
            "step 3 against it, beside the noisy input.",
        )
        choices = data_layer_choices(viewer)
        self.prediction = ComboBox(
            label="prediction",
            choices=choices,
            tooltip="The denoised image to score (by default the newest MMSE of step 3)",
        )
        self.ground_truth = ComboBox(
            label="ground truth",
            choices=choices,
            tooltip="A clean image of the same scene (e.g. the mean of many frames); a 2D one "
            "is compared with every plane of a stack",
        )
        self.noisy = ComboBox(label="noisy input", choices=choices, nullable=True, value=None)
        self.noisy.tooltip = "Optional: score the noisy input too, beside the prediction"
        self.uncertainty = ComboBox(
            label="uncertainty", choices=choices, nullable=True, value=None, tooltip=COVERAGE_TIP
        )
        self.add_form(
            Container(widgets=[self.prediction, self.ground_truth, self.noisy, self.uncertainty])
        )
        self.runner = self.add_runner(
            "Evaluate",
            tooltip="Score the prediction against the ground truth: PSNR, SSIM, and maps",
        )
        self.runner.run_button.clicked.connect(self._evaluate)
        self.table = QTableWidget(len(_ROWS), 2)
        self.table.setHorizontalHeaderLabels(["noisy input", "prediction"])
        self.table.setVerticalHeaderLabels(list(_ROWS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(30 * (len(_ROWS) + 1))
        self.body.addWidget(self.table)
        self.coverage = QLabel()
        self.coverage.setWordWrap(True)
        self.body.addWidget(self.coverage)
        self.body.addWidget(QLabel("Loss curves of a trained model"))
        self.model_file = FileEdit(
            label="model file",
            mode="r",
            filter="*.divnoising *.zip",
            tooltip="A saved model whose training and validation losses to show",
        )
        self.show_curves = PushButton(
            text="Show loss curves", tooltip="Draw the training and validation losses of the file"
        )
        self.show_curves.changed.connect(self._load_model_curves)
        self.add_form(Container(widgets=[self.model_file, self.show_curves]))
        self.loss_plot = LossPlot()
        self.body.addWidget(self.loss_plot)
        self.body.addStretch(1)
        #: The latest :class:`~napari_divnoising.core.quality.recipe.QualityResult` shown.
        self.last_result: QualityResult | None = None
        self.listen(self.store.model_changed, self._show_model_curves)
        if self.store.model is not None:
            self._show_model_curves(self.store.model)
        self.pick_defaults()

    def pick_defaults(self) -> None:
        """Pick the newest MMSE and a ground-truth-like layer, never one layer twice."""
        layers = image_layers(self.viewer)
        predictions = [
            layer for kind in PREFERRED for layer in layers[::-1] if result_kind(layer) == kind
        ]
        # A whole layer's result before one plane's preview (which a stack's truth won't fit).
        predictions.sort(key=lambda layer: layer.name.endswith(plane_name("")))
        if predictions and not self.user_chose(self.prediction):
            self.choose(self.prediction, predictions[0])
        prediction = self.prediction.value
        truths = [lay for lay in layers if looks_like_ground_truth(lay) and lay is not prediction]
        if truths and not self.user_chose(self.ground_truth):
            self.choose(self.ground_truth, truths[0])
        self._pick_noisy(prediction)
        spreads = [lay for lay in layers[::-1] if result_kind(lay) == "uncertainty"]
        if spreads and not self.user_chose(self.uncertainty):
            self.choose(self.uncertainty, spreads[0])
        if not predictions and not self.user_chose(self.prediction):
            self.show_hint("No result yet: denoise an image in step 3, or pick a prediction.")
        elif self.ground_truth.value in (None, self.prediction.value):
            self.show_hint("Pick the ground truth: a clean image of the same scene.")
        else:
            self.show_hint("")

    def _pick_noisy(self, prediction: Any) -> None:
        """Pick the input the prediction was computed from as the noisy input.

        Only for a result of this plugin whose input is still open, and never over the
        user's own choice; before there is a result, nothing is chosen (the first layer of
        the list would be a guess, as likely the calibration frames as the noisy data).
        """
        if self.user_chose(self.noisy) or prediction is None or not is_result(prediction):
            return
        source = result_source(prediction, self.viewer)
        if source is not None and source not in (prediction, self.ground_truth.value):
            self.choose(self.noisy, source)

    @guarded
    def _evaluate(self) -> None:
        prediction = layer_image(self.prediction.value, role="prediction")
        ground_truth = layer_image(self.ground_truth.value, role="ground truth")
        noisy = spread = None
        if self.noisy.value is not None:
            noisy = layer_image(self.noisy.value, role="noisy input")
        if self.uncertainty.value is not None:
            spread = layer_image(self.uncertainty.value, role="uncertainty")
        # The core validates (shapes, sizes) here, before any thread starts.
        job = iter_quality_control(prediction, ground_truth, noisy, spread)
        source = self.prediction.value
        self.runner.start(job, on_returned=lambda result: self._show_result(result, source))

    def _show_result(self, result: QualityResult, source: Any) -> None:
        self.last_result = result
        name = source.name
        push_image(
            self.viewer,
            result.ssim_map,
            name=f"{name}_ssim_map",
            kind="ssim_map",
            source=source,
            colormap="viridis",
            contrast_limits=(0.0, 1.0),
        )
        high = float(np.percentile(result.rse_map, 99.5)) or 1.0
        push_image(
            self.viewer,
            result.rse_map,
            name=f"{name}_rse_map",
            kind="rse_map",
            source=source,
            colormap="inferno",
            contrast_limits=(0.0, high),
        )
        for column, scores in enumerate((result.noisy, result.prediction)):
            values = (
                ("", "", "")
                if scores is None
                else (f"{scores.ssim:.4f}", f"{scores.nrmse:.4f}", f"{scores.psnr:.2f}")
            )
            for row, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.runner.status.setText(
            f"SSIM {result.prediction.ssim:.4f} · PSNR {result.prediction.psnr:.2f} dB"
        )
        self.coverage.setText(coverage_text(result.coverage))
        if result.warning is not None:
            from napari.utils.notifications import show_warning

            show_warning(result.warning)
            self.runner.status.setText(f"⚠ {result.warning}")

    @guarded
    def _load_model_curves(self) -> None:
        from napari_divnoising.core.model_files.bundle import load_model

        self._show_model_curves(load_model(self.model_file.value))

    def _show_model_curves(self, model: object) -> None:
        self.loss_plot.set_history(getattr(model, "history", None) or [])
