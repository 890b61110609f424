import numpy as np
import pytest

from napari_divnoising.widgets._training_form import GAUSSIAN
from napari_divnoising.widgets.training import TrainingWidget

from ..waiting import EVENT_WAIT_MS
from .conftest import make_tiny, wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(viewer, sample):
    viewer.add_image(sample.noisy, name="noisy")
    widget = TrainingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.form.layers.value = [viewer.layers["noisy"]]
    widget.form.noise_model_source.value = GAUSSIAN
    widget.form.gaussian_sigma.value = 10.0
    make_tiny(widget.form)
    return widget


def test_training_plots_each_epoch_and_offers_the_model(widget, qtbot, notifications):
    widget.runner.run_button.click()
    assert widget.runner.running
    assert not widget.runner.run_button.isEnabled()
    wait_for(qtbot, widget.runner)

    assert widget.loss_plot.epochs == [1.0, 2.0]
    assert all(np.isfinite(widget.loss_plot.train_loss))
    assert all(np.isfinite(widget.loss_plot.val_loss))
    model = widget.store.model
    assert model is not None
    assert [entry["epoch"] for entry in model.history] == [1, 2]
    assert "CPU" in widget.device_label.text()
    assert widget.runner.run_button.isEnabled()
    assert not [n for n in notifications if n.severity == "error"]


def test_stop_during_training_keeps_the_best_model(widget, qtbot):
    make_tiny(widget.form, max_epochs=10_000, steps_per_epoch=1)
    widget.runner.run_button.click()
    qtbot.waitUntil(lambda: len(widget.loss_plot.epochs) >= 2, timeout=EVENT_WAIT_MS)
    widget.runner.stop_button.click()
    wait_for(qtbot, widget.runner)

    model = widget.store.model
    assert model is not None
    assert "stopped" in widget.store.model_label
    assert 2 <= len(model.history) < 10_000
    # The kept model is usable: it can be trained further.
    make_tiny(widget.form, max_epochs=1)
    widget.continue_button.changed.emit(True)
    wait_for(qtbot, widget.runner)
    assert len(widget.store.model.history) == len(model.history) + 1
    assert widget.loss_plot.epochs[-1] == len(model.history) + 1


def test_missing_noise_model_is_a_notification(widget, qtbot, notifications):
    from napari_divnoising.widgets._training_form import FROM_WIDGET

    widget.form.noise_model_source.value = FROM_WIDGET
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("No noise model" in str(n.message) for n in notifications)
    assert widget.runner.run_button.isEnabled()


@pytest.mark.parametrize(
    ("make_layer", "message"),
    [
        (lambda v: v.add_labels(np.zeros((64, 64), np.uint8), name="bad"), "Labels layer"),
        (lambda v: v.add_image(np.zeros((64, 64, 3), np.uint8), name="bad", rgb=True), "RGB"),
    ],
    ids=["labels", "rgb"],
)
def test_wrong_layer_is_a_notification(widget, viewer, notifications, make_layer, message):
    make_layer(viewer)
    widget.form.layers.value = [viewer.layers["bad"]]
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any(message in str(n.message) for n in notifications)


def test_image_smaller_than_a_patch_is_a_notification(widget, viewer, notifications):
    widget.form.patch_size.value = 128
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("128" in str(n.message) for n in notifications)


def test_save_and_load_a_model(widget, qtbot, tmp_path, notifications):
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    widget.model_files.save_path.value = tmp_path / "model"
    widget.model_files.save_button.changed.emit(True)
    saved = tmp_path / "model.divnoising"
    assert saved.is_file()

    widget.store.set_model(None)
    widget.model_files.load_path.value = saved
    widget.model_files.load_button.changed.emit(True)
    assert widget.store.model is not None
    assert widget.loss_plot.epochs == [1.0, 2.0]


def test_closing_the_viewer_during_training_stops_the_worker(viewer, widget, qtbot):
    from superqt.utils._qthreading import WorkerBase

    make_tiny(widget.form, max_epochs=10_000, steps_per_epoch=1)
    widget.runner.run_button.click()
    qtbot.waitUntil(lambda: len(widget.loss_plot.epochs) >= 1, timeout=EVENT_WAIT_MS)
    viewer.close()
    qtbot.waitUntil(lambda: not WorkerBase._worker_set, timeout=EVENT_WAIT_MS)


def test_closing_the_dock_during_training_stops_the_worker(viewer, widget, qtbot):
    from superqt.utils._qthreading import WorkerBase

    make_tiny(widget.form, max_epochs=10_000, steps_per_epoch=1)
    widget.runner.run_button.click()
    qtbot.waitUntil(lambda: len(widget.loss_plot.epochs) >= 1, timeout=EVENT_WAIT_MS)
    viewer.window.remove_dock_widget(widget)
    qtbot.waitUntil(lambda: not WorkerBase._worker_set, timeout=EVENT_WAIT_MS)
    assert not widget.runner.running
    widget.deleteLater()  # napari hands an undocked widget back to the caller


def test_a_corrupt_model_file_is_a_notification(widget, tmp_path, notifications):
    broken = tmp_path / "broken.divnoising"
    broken.write_bytes(b"not a zip file")
    widget.model_files.load_path.value = broken
    widget.model_files.load_button.changed.emit(True)
    assert widget.store.model is None
    assert any("broken.divnoising" in str(n.message) for n in notifications)


def test_a_time_budget_shows_the_faster_settings_where_untouched(viewer):
    from napari_divnoising.core.model.config import BUDGET_DEFAULTS

    widget = TrainingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    form = widget.form
    form.batch_size.value = 8  # the user's own choice is kept
    form.time_budget.value = 5.0
    assert form.patch_size.value == BUDGET_DEFAULTS["patch_size"]
    assert form.learning_rate.value == pytest.approx(BUDGET_DEFAULTS["learning_rate"])
    assert form.batch_size.value == 8
    assert form.n_filters.value == 16  # the narrower network learns more per minute
    assert form.training_config().time_budget_minutes == 5.0


def test_the_reference_preset_restores_and_keeps_the_reference_settings(viewer):
    from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig

    widget = TrainingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    form = widget.form
    form.time_budget.value = 5.0
    form.preset.value = "reference"
    reference = TrainingConfig()
    assert form.patch_size.value == reference.patch_size
    assert form.batch_size.value == reference.batch_size
    assert form.n_filters.value == NetworkConfig().n_filters
    form.time_budget.value = 10.0  # a new budget no longer switches to the fast settings
    assert form.patch_size.value == reference.patch_size
    config = form.training_config()
    assert config.preset == "reference" and config.resolved_lr_schedule == "plateau"
    form.preset.value = "auto"
    assert form.patch_size.value == 64


def show_torch_build(monkeypatch, *, cuda: str | None, gpu: bool) -> None:
    from napari_divnoising.core.torch_build import TorchBuild

    build = TorchBuild(version="2.14.1", cuda=cuda, rocm=None, nvidia_gpu_seen=gpu)
    monkeypatch.setattr("napari_divnoising.widgets._torch_note.inspect_torch_build", lambda: build)


def test_an_unsuited_torch_build_is_noted_with_the_console_command(viewer, monkeypatch):
    show_torch_build(monkeypatch, cuda="13.0", gpu=False)
    widget = TrainingWidget(viewer)
    assert not widget.torch_note.isHidden()
    assert "`%pip install --force-reinstall --no-deps torch==2.14.1" in widget.torch_note.text()


def test_a_suited_torch_build_adds_no_note(viewer, monkeypatch):
    show_torch_build(monkeypatch, cuda=None, gpu=False)
    widget = TrainingWidget(viewer)
    assert widget.torch_note.isHidden()
    assert widget.torch_note.toolTip() == "PyTorch 2.14.1, CPU build"


def test_training_then_a_direct_network_offers_a_model_with_both(widget, qtbot):
    widget.form.direct.value = True
    widget.form.direct_minutes.value = 0.1
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    model = widget.store.model
    assert model is not None and len(model.history) == 2
    assert model.direct_network is not None
    assert model.direct_config.time_budget_minutes == 0.1
