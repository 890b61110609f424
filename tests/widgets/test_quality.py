import numpy as np
import pytest
import tifffile

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


def test_quality_control_shows_the_coverage_of_an_uncertainty_layer(qc_layers, qtbot):
    viewer = qc_layers
    # The prediction's error is N(0, 2²): an uncertainty of about 2 is right.
    spread = 2.0 + np.linspace(-0.01, 0.01, 64 * 64, dtype=np.float32).reshape(64, 64)
    viewer.add_image(spread, name="pred_uncertainty")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers["pred"]
    widget.ground_truth.value = viewer.layers["gt"]
    widget.uncertainty.value = viewer.layers["pred_uncertainty"]
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    coverage = widget.last_result.coverage
    assert set(coverage) == {0.5, 0.8, 0.9, 0.95}
    assert coverage[0.9] == pytest.approx(0.9, abs=0.03)
    assert "90%:" in widget.coverage.text()


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


def test_quality_control_refuses_an_image_smaller_than_the_ssim_window(
    qc_layers, qtbot, notifications
):
    viewer = qc_layers
    viewer.add_image(np.ones((8, 8)) * np.arange(8), name="tiny")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers["pred"]
    widget.ground_truth.value = viewer.layers["tiny"]
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("`ground truth` is 8×8 pixels" in str(n.message) for n in notifications)


@pytest.mark.parametrize("frames", [1, 3], ids=["2d", "stack-vs-2d-ground-truth"])
def test_dock_and_evaluate_command_give_the_same_figures(
    qc_layers, qtbot, tmp_path, capsys, monkeypatch, frames
):
    from napari_divnoising.cli import _evaluate, main
    from napari_divnoising.core.io import write_tiff

    viewer = qc_layers
    if frames > 1:  # a stack prediction of one scene, scored against its 2D ground truth
        for name in ("pred", "noisy"):
            layer = viewer.layers[name]
            shifts = np.arange(frames, dtype=np.float32)[:, None, None]
            viewer.add_image(layer.data[None] + shifts, name=f"{name}_stack")
    pred, noisy = ("pred", "noisy") if frames == 1 else ("pred_stack", "noisy_stack")
    widget = QualityControlWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.prediction.value = viewer.layers[pred]
    widget.ground_truth.value = viewer.layers["gt"]
    widget.noisy.value = viewer.layers[noisy]
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    dock = widget.last_result
    assert dock is not None

    paths = {name: tmp_path / f"{name}.tif" for name in (pred, "gt", noisy)}
    for name, path in paths.items():
        write_tiff(path, viewer.layers[name].data)
    returned = []
    real_drive = _evaluate.drive
    monkeypatch.setattr(
        _evaluate, "drive", lambda job: returned.append(real_drive(job)) or returned[-1]
    )
    argv = ["evaluate", str(paths[pred]), str(paths["gt"]), "--noisy", str(paths[noisy])]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    (cli,) = returned

    for dock_scores, cli_scores in ((dock.prediction, cli.prediction), (dock.noisy, cli.noisy)):
        for figure in ("psnr", "ssim", "nrmse"):
            assert getattr(dock_scores, figure) == pytest.approx(
                getattr(cli_scores, figure), abs=1e-6
            )
    printed = capsys.readouterr().out
    assert _evaluate.format_scores({"noisy": dock.noisy, "prediction": dock.prediction}) in printed
    ssim_map = tifffile.imread(tmp_path / f"{pred}_ssim_map.tif")
    rse_map = tifffile.imread(tmp_path / f"{pred}_rse_map.tif")
    np.testing.assert_array_equal(ssim_map, viewer.layers[f"{pred}_ssim_map"].data)
    np.testing.assert_array_equal(rse_map, viewer.layers[f"{pred}_rse_map"].data)
    assert ssim_map.shape == viewer.layers[pred].data.shape
    assert f"{float(widget.table.item(0, 1).text()):.4f}" == f"{cli.prediction.ssim:.4f}"
