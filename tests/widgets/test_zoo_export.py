"""The Training dock's bioimage.io export: it asks for a license, then writes the package."""

import pytest

from napari_divnoising.core.model_files.bundle import load_model
from napari_divnoising.widgets.training import TrainingWidget

from .conftest import wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(viewer, sample):
    pytest.importorskip("bioimageio.spec")
    from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
    from napari_divnoising.core.noise_model.recipe import make_noise_model
    from napari_divnoising.core.noise_model.settings import NoiseModelSettings
    from napari_divnoising.core.training.trainer import train

    viewer.add_image(sample.noisy, name="noisy")
    settings = NoiseModelSettings(n_iterations=20)
    noise_model = make_noise_model(sample.calibration, settings=settings).noise_model
    config = TrainingConfig(patch_size=32, batch_size=4, max_epochs=1, steps_per_epoch=2)
    model = train(
        sample.noisy, noise_model=noise_model, config=config,
        network_config=NetworkConfig(depth=1, n_filters=8, z_dim=4), device="cpu",
    )  # fmt: skip
    widget = TrainingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store.set_model(model, label="tiny")
    return widget


def test_export_asks_for_a_license_then_writes_a_package_in_a_worker(
    widget, viewer, tmp_path, notifications, qtbot
):
    form = widget.zoo_export
    form.test_image.value = viewer.layers["noisy"]
    form.authors.value = "A. Person, B. Person"
    form.package.value = tmp_path / "zoo"
    form.runner.run_button.click()
    assert any("Choose the model's license" in str(n.message) for n in notifications)
    # Said on the export's own status line too, not only in a toast that fades.
    assert "license" in form.runner.status.text()
    assert not (tmp_path / "zoo.zip").exists()
    form.license.value = "CC-BY-4.0"
    form.runner.run_button.click()
    assert form.runner.running  # the UI stays responsive while the package is written
    wait_for(qtbot, form.runner)
    assert load_model(tmp_path / "zoo.zip").network_config.n_filters == 8
    assert "Wrote the bioimage.io package" in form.runner.status.text()


def test_stopping_an_export_leaves_no_package(widget, viewer, tmp_path, qtbot):
    form = widget.zoo_export
    form.test_image.value = viewer.layers["noisy"]
    form.authors.value = "A. Person"
    form.license.value = "MIT"
    form.package.value = tmp_path / "zoo.zip"
    form.runner.run_button.click()
    form.runner.stop()
    wait_for(qtbot, form.runner)
    assert not (tmp_path / "zoo.zip").exists()
    assert [path.name for path in tmp_path.iterdir()] == []
