import numpy as np
import pytest

from napari_divnoising.widgets.quality import QualityControlWidget

from .conftest import wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def qc_layers(viewer, clean_image, rng):
    noisy = clean_image + rng.normal(0, 10, clean_image.shape).astype(np.float32)
    prediction = clean_image + rng.normal(0, 2, clean_image.shape).astype(np.float32)
    viewer.add_image(clean_image, name="gt", scale=(0.5, 0.5))
    viewer.add_image(noisy, name="noisy", scale=(0.5, 0.5))
    viewer.add_image(prediction, name="pred", scale=(0.5, 0.5))
    return viewer


def test_quality_control_docks_from_the_manifest(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("napari-divnoising", "Quality control")
    assert isinstance(widget, QualityControlWidget)


def test_quality_control_adds_maps_and_fills_the_table(qc_layers, qtbot):
    viewer = qc_layers
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers["pred"]
    widget.ground_truth.value = viewer.layers["gt"]
    widget.noisy.value = viewer.layers["noisy"]
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)

    ssim_layer, rse_layer = viewer.layers["pred_ssim_map"], viewer.layers["pred_rse_map"]
    for layer in (ssim_layer, rse_layer):
        assert layer.data.shape == (64, 64)
        assert layer.data.dtype == np.float32
        assert tuple(layer.scale) == (0.5, 0.5)
    assert ssim_layer.colormap.name == "viridis"
    noisy_ssim = float(widget.table.item(0, 0).text())
    prediction_ssim = float(widget.table.item(0, 1).text())
    assert prediction_ssim > noisy_ssim
    assert float(widget.table.item(2, 1).text()) > float(widget.table.item(2, 0).text())

    # Evaluating again replaces the earlier maps instead of piling up copies.
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    assert [layer.name for layer in viewer.layers].count("pred_ssim_map") == 1
    assert len(viewer.layers) == 5


def test_quality_control_refuses_labels_with_a_notification(qc_layers, qtbot, notifications):
    viewer = qc_layers
    viewer.add_labels(np.zeros((64, 64), dtype=np.uint8), name="mask")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers["mask"]
    widget.ground_truth.value = viewer.layers["gt"]
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("Labels layer" in str(n.message) for n in notifications)
    assert widget.runner.run_button.isEnabled()


def test_quality_control_refuses_mismatched_shapes(qc_layers, qtbot, notifications):
    viewer = qc_layers
    viewer.add_image(np.ones((32, 32)) * np.arange(32), name="small")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers["small"]
    widget.ground_truth.value = viewer.layers["gt"]
    widget.runner.run_button.click()
    assert any("same shape" in str(n.message) for n in notifications)
