"""Sampling dock widget: posterior samples, MMSE, MAP and uncertainty as layers; TIFF export."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, LineEdit, PushButton
from qtpy.QtWidgets import QLabel

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.outputs import check_output_name, output_name_from
from napari_divnoising.core.prediction.config import SamplingConfig
from napari_divnoising.core.prediction.results import RESULT_NAMES
from napari_divnoising.core.settings import field_spec

from . import _lazy_layers as lazy
from . import _sampling_choices as choices
from ._base import DockWidget
from ._fields import setting_widget
from ._layers import (
    checked_image_layer,
    data_layer_choices,
    layer_image,
    noisy_candidates,
    push_image,
    upgrade_from_calibration,
)
from ._model_files import ModelFiles
from ._workers import guarded, relay_warnings

if TYPE_CHECKING:
    import napari

__all__ = ["SamplingWidget"]


class SamplingWidget(DockWidget):
    """Denoise an image layer with the current model; results become layers.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are denoised.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(viewer)
        self.add_guide(
            3,
            "Sampling",
            "Denoises an image with the model of step 2 (or a saved one): MMSE, MAP, "
            "uncertainty and interval bounds become layers.",
        )
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.body.addWidget(self.model_label)
        self.model_files = ModelFiles(self.store)
        self.add_form(self.model_files.container)
        self.image = ComboBox(
            label="image",
            choices=data_layer_choices(viewer),
            tooltip="The noisy image (2D or a stack) to denoise, in raw camera units",
        )
        self.output_prefix = LineEdit(
            label="output name",
            tooltip="Name of the result layers and exported files: NAME_mmse, NAME_map, … "
            "(empty: the image's name)",
        )
        self.output_prefix.native.setPlaceholderText("the image's name")
        self.scope = ComboBox(
            label="denoise",
            choices=choices.SCOPES,
            value=choices.SCOPES[0],
            tooltip=choices.SCOPE_TIP,
        )
        self.zarr_folder = FileEdit(label="OME-Zarr folder", mode="d", tooltip=choices.FOLDER_TIP)
        self._add_setting_fields()
        self.add_form(
            Container(
                widgets=[
                    self.image,
                    self.output_prefix,
                    self.scope,
                    self.zarr_folder,
                    self.direct,
                    self.n_samples,
                    self.mmse,
                    self.restore_detail,
                    self.map,
                    self.uncertainty,
                    self.interval,
                    self.calibrate,
                    self.keep_samples,
                    self.tta,
                    self.tile_size,
                    self.seed,
                ]
            )
        )
        self.runner = self.add_runner(
            "Sample",
            tooltip="Denoise the chosen layer with the trained model: the results become layers",
        )
        self.runner.run_button.clicked.connect(self._sample)
        self.export_folder = FileEdit(
            label="export to",
            mode="d",
            tooltip="The folder 'Export results as TIFF' writes <name>_mmse.tif … into",
        )
        self.export_button = PushButton(
            text="Export results as TIFF",
            tooltip="Write the last run's results as TIFF files into the folder above",
        )
        self.export_button.changed.connect(self._export)
        self.add_form(Container(widgets=[self.export_folder, self.export_button]))
        self.body.addStretch(1)
        self.results: dict[str, np.ndarray] = {}
        self.results_source = ""
        #: The whole-stack results written as OME-Zarr by the last run, by output.
        self.written: dict[str, Path] = {}
        self.results_interval: float | None = None
        self.listen(self.store.model_changed, self._show_model)
        self._show_model()

    def pick_defaults(self, *_: Any) -> None:
        """Pick the active noisy layer unless a noisy layer is chosen; say what is missing."""
        candidates = noisy_candidates(self.viewer)
        current = self.image.value
        gone = bool(candidates) and current not in candidates
        if gone or (
            not self.user_chose(self.image)
            and upgrade_from_calibration(current, candidates, self.viewer)
        ):
            self.choose(self.image, candidates[0])
        if self.store.model is None:
            self.show_hint("No trained model yet: train one in step 2, or load a model file.")
        elif not candidates:
            self.show_hint("No noisy image layer yet: open the images to denoise.")
        else:
            self.show_hint("")

    def _add_setting_fields(self) -> None:
        # Limits, defaults and tooltips come from SamplingConfig.
        def field(name: str, label: str, **options: Any) -> Any:
            return setting_widget(SamplingConfig, name, label=label, **options)

        self.n_samples = field("n_samples", "samples")
        self.mmse = CheckBox(
            text="MMSE (mean of the samples)",
            value=True,
            tooltip="Add the MMSE layer: the mean of the posterior samples, the best "
            "estimate in the least-squares sense",
        )
        self.restore_detail = field("restore_detail", "MMSE with detail restored")
        self.map = field("map_estimate", "MAP (mode of the samples; slower)")
        self.uncertainty = field("uncertainty", "uncertainty (per-pixel std)")
        self.interval = ComboBox(
            label="interval bounds",
            choices=choices.INTERVALS,
            value=None,
            tooltip=field_spec(SamplingConfig, "interval").help,
        )
        self.calibrate = field("calibrate_uncertainty", "calibrated uncertainty")
        self.keep_samples = field("keep_samples", "raw samples to keep")
        self.keep_samples.value = 10  # the dock shows a few samples (the API keeps none)
        self.tta = field("tta", "test-time augmentation (samples over 8 flips/rotations)")
        self.tile_size = field("tile_size", "tile size", unset_as=0, step=32)
        self.seed = field("seed", "seed")
        self.direct = field("direct", "direct MMSE (one pass; a model with a direct network)")

    def sampling_config(self) -> SamplingConfig:
        """Return the settings of the form (raise SettingsError if one is out of range)."""
        return choices.form_settings(self)

    def _show_model(self, *_: Any) -> None:
        self.model_label.setText(
            f"model: {self.store.model_label or 'none yet — train or load one'}"
        )
        self.pick_defaults()

    @guarded
    def _sample(self) -> None:
        from napari_divnoising.core.prediction.recipe import ZarrTarget, iter_predict

        model = self.store.model
        if model is None:
            raise InputError(
                "No trained model: train one in the 'Training' widget or load a model file"
            )
        layer, settings = self.image.value, self.sampling_config()
        self._prefix(layer)  # a typed name that is a path: refused before any work
        image, target, shown = self._job_inputs(layer)
        if isinstance(target, ZarrTarget):  # lazy result layers have no sample axis
            settings = settings.model_copy(update={"keep_samples": 0})
        with relay_warnings():  # e.g. intensities outside the noise model's range
            job = iter_predict(image, model, settings, target=target)
        self.runner.start(job, on_returned=shown)

    def _job_inputs(self, layer: Any) -> tuple[Any, Any, Any]:
        """Return the image, the recipe's target and the handler of the result, by scope."""
        from napari_divnoising.core.prediction.recipe import PlaneTarget, ZarrTarget

        if self.scope.value == choices.SCOPES[0]:
            if layer is not None:
                lazy.check_fits_in_memory(checked_image_layer(layer, role="noisy image"))
            image = layer_image(layer, role="noisy image")
            return image, None, lambda prediction: self._show(layer, prediction)
        stack = lazy.layer_stack(layer, role="noisy image")
        if self.scope.value == choices.SCOPES[1]:
            position = lazy.current_plane(self.viewer, layer, stack)
            index = int(np.ravel_multi_index(position, stack.layout[:-2])) if position else 0
            shown = functools.partial(self._show, layer, position=position)
            return stack, PlaneTarget(index), shown
        folder = self.zarr_folder.value
        if not str(folder) or str(folder) == ".":
            raise InputError("Choose the OME-Zarr folder to write the whole stack into")
        target = ZarrTarget(folder, stem=output_name_from(self._prefix(layer)))
        return stack, target, lambda result: self._show_lazy(layer, result)

    def _prefix(self, layer: Any) -> str:
        """Return the user's output name (refused if it is a path), or the image's name."""
        typed = self.output_prefix.value.strip()
        return check_output_name(typed) if typed else layer.name

    def _show_lazy(self, layer: Any, result: Any) -> None:
        self.results, self.results_source = {}, self._prefix(layer)
        names = {
            output: choices.output_name(self.results_source, output, self.interval.value)
            for output in result.images
            if output != "mmse" or self.mmse.value
        }
        self.written = lazy.push_lazy_results(self.viewer, result.images, names, source=layer)
        reused = result.n_planes - result.computed
        earlier = f" ({reused} done by an earlier run)" if reused else ""
        self.runner.status.setText(
            f"done: {result.n_planes} planes of '{layer.name}' in "
            f"{Path(result.record).parent}{earlier}"
        )

    def _show(self, layer: Any, prediction: Any, position: tuple[int, ...] | None = None) -> None:
        self.results, self.results_source, self.written = {}, self._prefix(layer), {}
        interval = prediction.settings.interval if prediction.settings else None
        self.results_interval = interval
        wanted = dict.fromkeys(RESULT_NAMES, True) | {"mmse": self.mmse.value}
        for output in RESULT_NAMES:
            data = getattr(prediction, output, None)
            if data is not None and wanted[output] and np.size(data):
                self.results[output] = np.asarray(data, dtype=np.float32)
        # Pushed last first, so that the first result ends on top of the layer list.
        pending = [
            functools.partial(self._push, layer, output, position)
            for output in reversed(self.results)
        ]
        done = f"done: {', '.join(self.results)} of '{layer.name}'"
        if interval is not None:
            done += (
                f" · lower/upper: the clean signal lies between them on about {interval:.0%} "
                "of pixels, on data like the training data"
            )
        self.runner.finish_in_turns(pending, done)

    def _push(self, layer: Any, output: str, position: tuple[int, ...] | None) -> None:
        data = self.results[output]
        options: dict[str, Any] = {}
        if output == "uncertainty":
            high = float(np.percentile(data, 99.9)) or 1.0
            options = {"colormap": "magma", "contrast_limits": (0.0, high)}
        if output != next(iter(self.results)):  # one result on top; the rest a click away
            options["visible"] = False
        name = choices.output_name(self.results_source, output, self.results_interval)
        if position:
            lazy.push_plane(
                self.viewer, data, name=name, source=layer, position=position, kind=output
            )
            return
        options["leading_axes"] = int(output == "samples")  # the sample axis first
        push_image(self.viewer, data, name=name, kind=output, source=layer, **options)

    @guarded
    def _export(self) -> None:
        from napari.utils.notifications import show_info

        folder = Path(self.export_folder.value)
        count = choices.export_tiffs(
            self.results, self.written, folder, self.results_source, self.results_interval
        )
        show_info(f"Wrote {count} TIFF file(s) to {folder}")
