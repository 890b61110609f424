"""Noise-model dock widget: fit (calibration or bootstrap) or load p(x|s), look at it, save it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import Container, FileEdit, PushButton
from superqt import QCollapsible

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.noise_model.settings import NOISE_MODEL_SUFFIX

from ._base import DockWidget
from ._noise_model_form import (
    CALIBRATION_LAYER,
    LOAD,
    NoiseModelForm,
)
from ._noise_model_plot import NoiseModelPlot
from ._workers import guarded, relay_warnings

if TYPE_CHECKING:
    import napari

    from napari_divnoising.core.noise_model import NoiseModel
    from napari_divnoising.core.noise_model.recipe import NoiseModelResult

__all__ = ["NoiseModelWidget"]


class NoiseModelWidget(DockWidget):
    """Make the camera noise model p(x|s) and offer it to the training widget.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers hold calibration frames or noisy images.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(viewer)
        self.add_guide(
            1,
            "Noise model",
            "How your camera's noise depends on the signal. Needs calibration frames "
            "(at least 10 frames of a static sample) or, without them, the noisy images "
            "themselves (bootstrap). Step 2 uses the model.",
        )
        self.form = NoiseModelForm(viewer)
        self.add_form(self.form.main)
        advanced = QCollapsible("Advanced settings")
        advanced.setToolTip("The fit's finer settings; the defaults suit most cameras")
        self.add_form(self.form.advanced, layout=advanced)
        self.body.addWidget(advanced)
        self.runner = self.add_runner(
            "Fit", tooltip="Fit the noise model from the source chosen above (in the background)"
        )
        self.runner.run_button.clicked.connect(self._run)
        self.form.source.changed.connect(self._update_run_text)
        self.form.source.changed.connect(self.pick_defaults)
        self.plot = NoiseModelPlot()
        self.body.addWidget(self.plot)
        self.save_path = FileEdit(
            label="save to",
            mode="w",
            filter="*.npz *.npy",
            tooltip="Where to write the noise model (.npz for a GMM, .npy for a histogram; "
            "the reference notebooks read both); empty: the name above, in the current folder",
        )
        self.save_button = PushButton(
            text="Save noise model", tooltip="Write the current noise model to the file above"
        )
        self.save_button.changed.connect(self._save)
        self.add_form(Container(widgets=[self.save_path, self.save_button]))
        self.body.addStretch(1)
        self.listen(self.store.noise_model_changed, self._show_stored)
        if self.store.noise_model is not None:
            self.plot.show_model(self.store.noise_model)
        self.pick_defaults()

    def pick_defaults(self, *_: Any) -> None:
        """Pick the layers the source needs; say in place when there are none."""
        self.show_hint(self.form.pick_defaults(self.viewer))

    def _update_run_text(self) -> None:
        self.runner.run_button.setText("Load" if self.form.source.value == LOAD else "Fit")

    @guarded
    def _run(self) -> None:
        form, source = self.form, self.form.source.value
        if source == LOAD:
            self._load(Path(form.model_file.value))
            return
        with relay_warnings():  # e.g. calibration frames that drift
            job, label = form.make_job()
        if source == CALIBRATION_LAYER and form.layer.value is not None:
            self.store.calibration_layers.add(form.layer.value)
        self._so_far = None
        self.runner.start(
            job,
            on_event=self._follow,
            on_returned=lambda result: self._fitted(result, label),
            on_aborted=lambda: self._stopped(label),
        )

    def _follow(self, event: Any) -> None:
        from napari_divnoising.core.noise_model import FitSoFar

        if isinstance(event.payload, FitSoFar):
            self._so_far = event.payload

    def _stopped(self, label: str) -> str:
        """Keep the fit as it stands when Stop came during its iterations."""
        so_far, self._so_far = self._so_far, None
        if so_far is None:  # stopped while bootstrapping: there are no weights yet
            return "Stopped before the fit began: nothing kept."
        model = so_far.model()
        self.plot.show_model(model)
        self.store.set_noise_model(model, label=f"{label} (stopped at {so_far.iteration})")
        return (
            f"Stopped after {so_far.iteration} iterations: model kept. The training "
            "widget can use it; fit again for the full fit."
        )

    def _fitted(self, result: NoiseModelResult, label: str) -> None:
        self.plot.show_model(result.noise_model, result.data)
        self.store.set_noise_model(result.noise_model, label=label)
        fit = result.noise_model.metadata.get("fit", {})
        steps = fit.get("iterations_run")
        how = f" in {steps} iterations" if steps else ""
        if steps and fit.get("converged_at"):
            how += " (its loss had levelled off)"
        status = f"{self.runner.status.text()}: {label}{how}. Step 2, Training, can use it now."
        from napari_divnoising.core.noise_model.local_check import describe_disagreement

        disagreement = describe_disagreement(result.data.local)
        if disagreement:
            remedy = (
                "calibration frames, if you can record them, give a truer model"
                if result.noise_model.metadata.get("source") != "calibration"
                else "check that the frames show a static sample"
            )
            status += f" ⚠ Check the plot: {disagreement}; {remedy}."
        self.runner.status.setText(status)

    def _load(self, path: Path) -> None:
        from napari_divnoising.core.model_files import load_noise_model

        model = load_noise_model(path)
        name = model.metadata.get("fit", {}).get("name")
        self.store.set_noise_model(model, label=name or f"loaded from {path.name}")
        self.runner.status.setText(f"Loaded {path.name}. The training widget can use it now.")

    def _show_stored(self, noise_model: NoiseModel | None) -> None:
        # A model fitted here is drawn with its data by `_fitted`; others (loaded here or
        # elsewhere) are drawn alone.
        if noise_model is not None and noise_model is not self.plot.noise_model:
            self.plot.show_model(noise_model)

    @guarded
    def _save(self) -> None:
        from napari.utils.notifications import show_info

        model = self.store.noise_model
        if model is None:
            raise InputError("No noise model to save yet: fit or load one first")
        path = Path(self.save_path.value)
        if str(path) in ("", ".") or path.is_dir():
            name = re.sub(r"[^\w.-]+", "_", self.form.name.value.strip()).strip("_.")
            if not name:
                raise InputError("Choose where to save the noise model (or give it a name)")
            path = (path if path.is_dir() else Path.cwd()) / name
        if path.suffix == "":
            path = path.with_suffix(NOISE_MODEL_SUFFIX.get(model.kind, ".npz"))
        show_info(f"Saved the noise model to {model.save(path)}")
