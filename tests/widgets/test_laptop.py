"""The docks as a newcomer meets them on a laptop: the right layers, nothing silently
replaced, plain words for a bad value, every control on screen, no library noise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_divnoising.widgets.noise_model import NoiseModelWidget
from napari_divnoising.widgets.quality import QualityControlWidget
from napari_divnoising.widgets.sampling import SamplingWidget
from napari_divnoising.widgets.training import TrainingWidget

from .conftest import wait_for

pytestmark = pytest.mark.gui

DOCKS = [NoiseModelWidget, TrainingWidget, SamplingWidget, QualityControlWidget]
#: A 1366×768 laptop leaves about this much height to a dock under napari's menus.
LAPTOP_DOCK_HEIGHT = 900


def docked(viewer, widget_class):
    widget = widget_class(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


# -- the right layers, whatever order they were opened in ------------------------------
@pytest.fixture(params=["noisy first", "calibration first"])
def both_samples(viewer, request):
    order = ["noisy", "calibration"]
    if request.param == "calibration first":
        order.reverse()
    for key in order:
        viewer.open_sample("napari-divnoising", key)
    return viewer


def test_training_and_sampling_preselect_the_noisy_frames(both_samples, tiny_model):
    viewer = both_samples
    training = docked(viewer, TrainingWidget)
    sampling = docked(viewer, SamplingWidget)
    sampling.store.set_model(tiny_model, label="tiny")
    assert training.form.layers.value == [viewer.layers["noisy frames"]]
    assert sampling.image.value is viewer.layers["noisy frames"]


def test_a_dock_opened_early_follows_the_noisy_layer_opened_later(viewer):
    viewer.open_sample("napari-divnoising", "calibration")
    training = docked(viewer, TrainingWidget)
    sampling = docked(viewer, SamplingWidget)
    # Only calibration frames so far: offered (the user may want them), but not for long.
    assert training.form.layers.value == [viewer.layers["calibration frames"]]
    viewer.open_sample("napari-divnoising", "noisy")
    assert training.form.layers.value == [viewer.layers["noisy frames"]]
    assert sampling.image.value is viewer.layers["noisy frames"]
    # The user's own choice is kept from then on.
    training.form.layers.value = [viewer.layers["calibration frames"]]
    viewer.add_image(np.zeros((32, 32), np.float32), name="more data")
    assert training.form.layers.value == [viewer.layers["calibration frames"]]


def test_a_stack_the_noise_model_was_calibrated_from_is_not_offered_first(viewer, sample):
    # Names that say nothing: what the user did in step 1 tells the stacks apart.
    viewer.add_image(sample.noisy, name="stack B")
    viewer.add_image(sample.calibration, name="stack A")
    noise_model = docked(viewer, NoiseModelWidget)
    noise_model.form.layer.value = viewer.layers["stack A"]
    noise_model.form.n_iterations.value = 5
    noise_model.runner.run_button.click()
    noise_model.runner.stop()  # the fit itself is not the point
    training = docked(viewer, TrainingWidget)
    assert training.form.layers.value == [viewer.layers["stack B"]]


def test_quality_control_preselects_the_noisy_input_of_the_result(both_samples, qtbot, tiny_model):
    viewer = both_samples
    sampling = docked(viewer, SamplingWidget)
    sampling.store.set_model(tiny_model, label="tiny")
    sampling.n_samples.value = 2
    sampling.scope.value = "current plane"
    sampling.runner.run_button.click()
    wait_for(qtbot, sampling.runner)
    quality = docked(viewer, QualityControlWidget)
    assert quality.noisy.value is viewer.layers["noisy frames"]
    assert quality.ground_truth.value is viewer.layers["ground truth"]


# -- a plane's result never replaces the whole layer's ----------------------------------
def sampling_dock(viewer, sample, model):
    """A Sampling dock on the layer "noisy" with `model`: 2 samples and the uncertainty."""
    viewer.add_image(sample.noisy, name="noisy")
    sampling = docked(viewer, SamplingWidget)
    sampling.store.set_model(model, label="tiny")
    sampling.image.value = viewer.layers["noisy"]
    sampling.n_samples.value = 2
    sampling.uncertainty.value = True
    return sampling


def test_a_current_plane_run_after_a_whole_layer_run_keeps_both(viewer, sample, qtbot, tiny_model):
    sampling = sampling_dock(viewer, sample, tiny_model)
    sampling.runner.run_button.click()
    wait_for(qtbot, sampling.runner)
    whole = np.array(viewer.layers["noisy_mmse"].data)
    assert whole.shape == (4, 64, 64)

    # The plane axis: the samples layer adds one in front of the stack's.
    viewer.dims.set_point(viewer.dims.ndim - 3, 2)
    sampling.scope.value = "current plane"
    sampling.runner.run_button.click()
    wait_for(qtbot, sampling.runner)
    for output in ("mmse", "restored", "uncertainty"):
        assert viewer.layers[f"noisy_{output}"].data.shape == (4, 64, 64)
        plane = viewer.layers[f"noisy_{output} (plane)"]
        assert plane.data.shape == (1, 64, 64)
        assert tuple(plane.translate) == (2, 0, 0), output  # where it belongs in the stack
    # The input itself never moves (napari hands out the layer's own translate array).
    assert tuple(viewer.layers["noisy"].translate) == (0, 0, 0)
    np.testing.assert_array_equal(viewer.layers["noisy_mmse"].data, whole)
    # Quality control keeps scoring the whole layer's result, which fits the stack.
    viewer.add_image(sample.clean, name="ground truth")
    quality = docked(viewer, QualityControlWidget)
    assert quality.prediction.value is viewer.layers["noisy_mmse"]


def test_whole_stack_results_are_added_with_the_mmse_on_top_and_said_to_be_files(
    viewer, sample, qtbot, tiny_model, tmp_path, notifications
):
    sampling = sampling_dock(viewer, sample, tiny_model)
    sampling.interval.value = 0.9
    sampling.scope.value = "whole stack → OME-Zarr"
    sampling.zarr_folder.value = tmp_path
    sampling.runner.run_button.click()
    wait_for(qtbot, sampling.runner)
    results = [layer for layer in viewer.layers if layer.name != "noisy"]
    assert results[-1].name == "noisy_mmse" and results[-1].visible
    assert not any(layer.visible for layer in results[:-1])
    sampling.export_folder.value = tmp_path
    sampling.export_button.clicked()
    message = str(notifications[-1].message)
    assert "already files" in message and str(tmp_path) in message
    assert "Nothing to export" not in message


# -- a bad value in plain words ------------------------------------------------------------
def test_a_value_out_of_range_is_one_plain_line_naming_the_field(viewer, sample, notifications):
    viewer.add_image(sample.noisy, name="noisy")
    training = docked(viewer, TrainingWidget)
    training.form.noise_model_source.value = "none (Gaussian)"
    training.form.learning_rate.value = 0.0
    training.runner.run_button.click()
    messages = [str(n.message) for n in notifications]
    assert messages, "the refusal reached no one"
    assert "'learning rate' must be > 0" in messages[-1]
    assert "\n" not in messages[-1]
    for word in ("ValidationError", "pydantic", "bug"):
        assert word not in messages[-1]
    assert "'learning rate' must be > 0" in training.runner.status.text()
    assert not training.runner.running


# -- every control within reach on a laptop ------------------------------------------------
@pytest.mark.parametrize("widget_class", DOCKS)
def test_every_dock_fits_a_laptop_screen(viewer, widget_class):
    widget = docked(viewer, widget_class)
    assert widget.minimumSizeHint().height() <= LAPTOP_DOCK_HEIGHT
    dock = widget.parentWidget()
    while dock is not None and type(dock).__name__ != "QtViewerDockWidget":
        dock = dock.parentWidget()
    assert dock is not None
    assert dock.minimumSizeHint().height() <= LAPTOP_DOCK_HEIGHT
    # What does not fit scrolls: the whole column is still there, under a scroll bar.
    assert widget.scroll_area.widget().sizeHint().height() > 0


@pytest.mark.parametrize("widget_class", DOCKS)
def test_every_button_says_what_it_does(viewer, widget_class):
    from qtpy.QtWidgets import QAbstractButton

    widget = docked(viewer, widget_class)
    missing = []
    for button in widget.findChildren(QAbstractButton):
        if _inside_a_menu_or_table(button, widget):
            continue  # the plots' context menus and a table's corner: not the dock's own
        # Qt shows the nearest tooltip up the parents: a file picker's browse button
        # shows its field's.
        holder = button
        while holder is not None and not holder.toolTip().strip() and holder is not widget:
            holder = holder.parentWidget()
        if holder is None or holder is widget:
            missing.append(button.text() or type(button).__name__)
    assert not missing, f"{widget_class.__name__}: no tooltip on {missing}"


def _inside_a_menu_or_table(button, widget) -> bool:
    from qtpy.QtWidgets import QAbstractItemView, QMenu

    holder = button.parentWidget()
    while holder is not None and holder is not widget:
        if isinstance(holder, QMenu | QAbstractItemView):
            return True
        holder = holder.parentWidget()
    return False


# -- warnings: advice reaches the user, library housekeeping the log -----------------------
def _warns():
    from napari_divnoising.core.events import Progress

    warnings.warn("Call to deprecated class Scaler", DeprecationWarning, stacklevel=1)
    warnings.warn("unclosed file <_io.BufferedReader name='x'>", ResourceWarning, stacklevel=1)
    warnings.warn("intensities outside the noise model's range", UserWarning, stacklevel=1)
    yield Progress("testing", 1, 1)
    return None


def test_only_advice_reaches_a_toast(viewer, qtbot, notifications):
    widget = docked(viewer, SamplingWidget)
    widget.runner.start(_warns())
    wait_for(qtbot, widget.runner)
    qtbot.wait(50)  # the worker's warnings arrive through the event loop
    messages = [str(n.message) for n in notifications]
    assert any("noise model's range" in message for message in messages)
    assert not any("deprecated" in message or "unclosed" in message for message in messages)
