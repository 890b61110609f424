"""The whole user path through the four docks on the built-in sample data, tiny settings."""

import numpy as np
import pytest

from napari_divnoising.widgets._training_form import FROM_WIDGET

from .conftest import make_tiny, wait_for

pytestmark = pytest.mark.gui


def test_noise_model_then_training_then_sampling_then_quality_control(
    viewer, qtbot, notifications
):
    viewer.open_sample("napari-divnoising", "noisy")
    viewer.open_sample("napari-divnoising", "calibration")
    dock = {
        name: viewer.window.add_plugin_dock_widget("napari-divnoising", name)[1]
        for name in ("Noise model", "Training", "Sampling", "Quality control")
    }

    fit = dock["Noise model"]
    fit.form.layer.value = viewer.layers["calibration frames"]
    fit.form.n_iterations.value = 5
    fit.runner.run_button.click()
    wait_for(qtbot, fit.runner)
    assert fit.store.noise_model is not None

    train = dock["Training"]
    train.form.layers.value = [viewer.layers["noisy frames"]]
    assert train.form.noise_model_source.value == FROM_WIDGET
    make_tiny(train.form)
    train.runner.run_button.click()
    wait_for(qtbot, train.runner)
    assert train.loss_plot.epochs == [1.0, 2.0]
    assert train.store.model.noise_model is fit.store.noise_model

    sample = dock["Sampling"]
    sample.image.value = viewer.layers["noisy frames"]
    sample.n_samples.value = 3
    sample.keep_samples.value = 2
    sample.runner.run_button.click()
    wait_for(qtbot, sample.runner)
    shape = viewer.layers["noisy frames"].data.shape
    assert viewer.layers["noisy frames_mmse"].data.shape == shape
    assert viewer.layers["noisy frames_uncertainty"].data.dtype == np.float32
    assert viewer.layers["noisy frames_samples"].data.shape == (2, *shape)
    assert "noisy frames_map" not in [layer.name for layer in viewer.layers]

    qc = dock["Quality control"]
    qc.prediction.value = viewer.layers["noisy frames_mmse"]
    qc.ground_truth.value = viewer.layers["ground truth"]
    qc.noisy.value = viewer.layers["noisy frames"]
    qc.runner.run_button.click()
    wait_for(qtbot, qc.runner)
    assert viewer.layers["noisy frames_mmse_ssim_map"].data.shape == shape
    assert viewer.layers["noisy frames_mmse_rse_map"].data.dtype == np.float32
    assert all(qc.table.item(row, col).text() for row in range(3) for col in range(2))
    # the quality-control dock shows the loss curves of the model trained above
    assert qc.loss_plot.epochs == [1.0, 2.0]
    assert not [n for n in notifications if n.severity == "error"]
