"""Training dock widget: train a DivNoising VAE with a live loss plot; save, load, continue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import PushButton
from qtpy.QtWidgets import QLabel
from superqt import QCollapsible

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.events import (
    CollapseRestart,
    EpochDone,
    Progress,
    StoppedEarly,
    TrainingStarted,
)
from napari_divnoising.core.training.history import describe_history, training_warning

from ._base import DockWidget
from ._loss_plot import LossPlot
from ._model_files import ModelFiles
from ._torch_note import torch_note
from ._training_form import FROM_WIDGET, GAUSSIAN, TrainingForm
from ._workers import guarded, relay_warnings
from ._zoo_export import ZooExport

if TYPE_CHECKING:
    import napari

    from napari_divnoising.core.training.direct import TrainingWithDirect
    from napari_divnoising.core.training.trainer import Trainer

__all__ = ["TrainingWidget"]


class TrainingWidget(DockWidget):
    """Train on image layers or a folder; Stop keeps the best model so far.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are trained on.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(viewer)
        self.add_guide(
            2,
            "Training",
            "Learns what your images look like. Needs the noisy images and the noise model "
            "of step 1 (or a Gaussian σ). Step 3 uses the trained model.",
        )
        self.form = TrainingForm(viewer)
        self.add_form(self.form.main)
        advanced = QCollapsible("Advanced settings")
        advanced.setToolTip("Network size, device, schedule: the defaults suit a time budget")
        self.add_form(self.form.advanced, layout=advanced)
        self.body.addWidget(advanced)
        self.noise_model_label = QLabel()
        self.body.addWidget(self.noise_model_label)
        self.runner = self.add_runner(
            "Train", tooltip="Train a new model on the chosen images (in the background)"
        )
        self.runner.run_button.clicked.connect(self._train)
        self.continue_button = PushButton(
            text="Continue training the current model",
            tooltip="Train the current model further, from its weights, with the settings above",
        )
        self.continue_button.changed.connect(self._continue)
        self.device_label = QLabel("")
        self.device_label.setWordWrap(True)
        self.body.addWidget(self.device_label)
        self.torch_note = torch_note()
        self.body.addWidget(self.torch_note)
        self.loss_plot = LossPlot()
        self.body.addWidget(self.loss_plot)
        self.model_label = QLabel("model: none yet")
        self.body.addWidget(self.model_label)
        self.model_files = ModelFiles(self.store, save=True)
        self.model_files.container.insert(0, self.continue_button)
        self.add_form(self.model_files.container)
        # Sharing comes after training: folded away until wanted, the dock stays short.
        sharing = QCollapsible("Export to bioimage.io")
        sharing.setToolTip("Share the model as a bioimage.io package")
        self.zoo_export = ZooExport(viewer, self.store)
        self.add_form(self.zoo_export.container, layout=sharing)
        self.zoo_export.use_runner(self.add_runner("Export", layout=sharing))
        self.body.addWidget(sharing)
        self.body.addStretch(1)
        self.trainer: Trainer | None = None
        self.job: Trainer | TrainingWithDirect | None = None
        self.listen(self.store.noise_model_changed, self._show_noise_model)
        self.listen(self.store.model_changed, self._show_model)
        self.runner.job_finished.connect(self._set_idle)
        self.form.noise_model_source.changed.connect(self.pick_defaults)
        self.form.source.changed.connect(self.pick_defaults)
        self._show_noise_model()
        self._show_model()

    def pick_defaults(self, *_: Any) -> None:
        """Pick the active noisy layer; say in place what training still lacks."""
        missing = self.form.pick_defaults(self.viewer)
        needs_model = self.form.noise_model_source.value == FROM_WIDGET
        if not missing and needs_model and self.store.noise_model is None:
            missing = (
                "No noise model yet: make one in step 1 (Noise model), choose a noise "
                "model file, or pick 'none (Gaussian)'."
            )
        self.show_hint(missing)

    # -- starting ---------------------------------------------------------------------
    @guarded
    def _train(self) -> None:
        self._start(initial_model=None)

    @guarded
    def _continue(self) -> None:
        if self.store.model is None:
            raise InputError("No model to continue: train one or load a saved model first")
        self._start(initial_model=self.store.model)

    def _likelihood(self) -> dict[str, Any]:
        source = self.form.noise_model_source.value
        if source == GAUSSIAN:
            return {"gaussian_sigma": self.form.gaussian_sigma.value}
        if source == FROM_WIDGET:
            if self.store.noise_model is None:
                raise InputError(
                    "No noise model yet: fit or load one in the 'Noise model' widget, choose "
                    "a noise model file, or pick 'none (Gaussian)'"
                )
            return {"noise_model": self.store.noise_model}
        from napari_divnoising.core.model_files import load_noise_model

        return {"noise_model": load_noise_model(self.form.noise_model_file.value)}

    def _start(self, *, initial_model: Any) -> None:
        from napari_divnoising.core.training.direct import TrainingWithDirect
        from napari_divnoising.core.training.trainer import Trainer

        images = self.form.images()
        likelihood = {} if initial_model is not None else self._likelihood()
        with relay_warnings():
            self.trainer = Trainer(
                images,
                **likelihood,
                config=self.form.training_config(),
                network_config=self.form.network_config(),
                device=self.form.device.value,
                initial_model=initial_model,
            )
        self.loss_plot.set_history(self.trainer.history)
        self._stop_reason = ""
        self.continue_button.enabled = False
        direct = self.form.direct_config()
        self.job = (
            self.trainer if direct is None else TrainingWithDirect(self.trainer, images, direct)
        )
        self.runner.start(
            self.job.run(),
            on_event=self._on_event,
            on_returned=self._on_returned,
            on_aborted=self._on_aborted,
        )

    # -- while running ------------------------------------------------------------------
    def _on_event(self, event: Progress) -> None:
        payload = event.payload
        if isinstance(payload, TrainingStarted):
            self.device_label.setText(
                f"Training on {payload.device} · {payload.n_train_planes} training / "
                f"{payload.n_validation_planes} validation plane(s) · {payload.steps_per_epoch} "
                f"steps of {payload.batch_size}×{payload.patch_size}² per epoch"
                + (
                    " · nothing could be held out: validation reuses the training data"
                    if payload.validation_is_training
                    else ""
                )
            )
        elif isinstance(payload, EpochDone):
            self.loss_plot.add_point(payload.epoch, payload.train_loss, payload.val_loss)
        elif isinstance(payload, CollapseRestart):
            from napari.utils.notifications import show_info

            show_info(event.message)
        elif isinstance(payload, StoppedEarly):
            self._stop_reason = f"Stopped early: {payload.reason.rstrip('.')}. "
            if payload.kind in ("non_finite", "collapse"):  # worth a look, not just a status
                from napari.utils.notifications import show_warning

                show_warning(f"Training {payload.reason}; the best model so far is kept")

    def _on_returned(self, model: Any) -> None:
        from napari.utils.notifications import show_warning

        self.store.set_model(model, label="trained in this session")
        status = f"{self._stop_reason or 'Done. '}{describe_history(model.history)}"
        warning = training_warning(model.history)
        if warning is not None:
            show_warning(warning)
            status = f"⚠ {warning} {status}"
        self.runner.status.setText(status)

    def _on_aborted(self) -> str:
        from napari_divnoising.core.errors import RunFailedError

        trainer = self.trainer
        try:
            model = self.job.best_model()  # the direct network too, once validated
        except RunFailedError:
            if trainer is not None and trainer.initial_model is not None:
                return "Stopped before an epoch ended: the earlier model is kept, unchanged."
            return "Stopped before the first epoch ended: nothing kept (train for longer)."
        self.store.set_model(model, label="stopped early (best epoch kept)")
        best = min(model.history, key=lambda epoch: epoch["val_loss"])["epoch"]
        return (
            f"Stopped after {len(model.history)} epochs: model kept (best epoch {best}; "
            f"uncertainty not calibrated). {describe_history(model.history)}"
        )

    def _set_idle(self) -> None:
        self.continue_button.enabled = True

    # -- what the other widgets offer ---------------------------------------------------
    def _show_noise_model(self, *_: Any) -> None:
        label = self.store.noise_model_label or "none yet"
        self.noise_model_label.setText(f"noise model from step 1: {label}")
        self.pick_defaults()

    def _show_model(self, *_: Any) -> None:
        model = self.store.model
        self.model_label.setText(f"model: {self.store.model_label or 'none yet'}")
        if model is not None and not self.runner.running:
            self.loss_plot.set_history(model.history)
