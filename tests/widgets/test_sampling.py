import numpy as np
import pytest

from napari_divnoising.widgets.sampling import SamplingWidget

from .conftest import wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(viewer, sample, tiny_model):
    viewer.add_image(sample.noisy, name="noisy", scale=(1.0, 0.2, 0.2), translate=(0, 5, 7))
    widget = SamplingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store.set_model(tiny_model, label="tiny")
    widget.image.value = viewer.layers["noisy"]
    widget.n_samples.value = 4
    widget.keep_samples.value = 2
    widget.map.value = True
    return widget


def test_sampling_adds_result_layers_like_the_input(widget, viewer, qtbot):
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)

    source = viewer.layers["noisy"]
    for name in ("noisy_mmse", "noisy_restored", "noisy_map", "noisy_uncertainty"):
        layer = viewer.layers[name]
        assert layer.data.shape == (4, 64, 64)
        assert layer.data.dtype == np.float32
        np.testing.assert_allclose(layer.scale, source.scale)
        np.testing.assert_allclose(layer.translate, source.translate)
    assert tuple(viewer.layers["noisy_mmse"].contrast_limits) == tuple(source.contrast_limits)
    assert viewer.layers["noisy_uncertainty"].colormap.name == "magma"
    samples = viewer.layers["noisy_samples"]
    assert samples.data.shape == (2, 4, 64, 64)
    np.testing.assert_allclose(samples.scale, (1.0, *source.scale))
    assert float(viewer.layers["noisy_uncertainty"].data.min()) >= 0
    # The restored MMSE lies between the MMSE and the noisy input, pixel by pixel.
    mmse, restored = viewer.layers["noisy_mmse"].data, viewer.layers["noisy_restored"].data
    noisy = np.asarray(source.data, dtype=np.float32)
    assert np.all(restored >= np.minimum(mmse, noisy) - 1e-3)
    assert np.all(restored <= np.maximum(mmse, noisy) + 1e-3)


def test_interval_bounds_become_layers_named_by_their_probability(widget, viewer, qtbot):
    widget.map.value = False
    widget.interval.value = 0.9
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    lower = viewer.layers["noisy_lower_90%"].data
    upper = viewer.layers["noisy_upper_90%"].data
    mmse = viewer.layers["noisy_mmse"].data
    spread = viewer.layers["noisy_uncertainty"].data
    assert lower.shape == mmse.shape == (4, 64, 64)
    assert (lower <= mmse).all() and (mmse <= upper).all()
    np.testing.assert_allclose(upper - mmse, 1.6449 * spread, rtol=1e-3, atol=1e-4)
    assert "90% of pixels" in widget.runner.status.text()


def test_running_again_replaces_the_earlier_results(widget, viewer, qtbot):
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    viewer.add_image(np.ones((8, 8)), name="noisy_mmse")  # the user's own layer: kept
    widget.keep_samples.value = 3
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    names = [layer.name for layer in viewer.layers]
    assert names.count("noisy_samples") == 1
    assert names.count("noisy_map") == 1
    assert viewer.layers["noisy_samples"].data.shape[0] == 3
    assert "noisy_mmse [1]" in names or names.count("noisy_mmse") == 2
    assert len(viewer.layers) == 7


def test_export_writes_tiffs(widget, qtbot, tmp_path):
    import tifffile

    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    widget.export_folder.value = tmp_path
    widget.export_button.changed.emit(True)
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == [
        "noisy_map.tif",
        "noisy_mmse.tif",
        "noisy_restored.tif",
        "noisy_samples.tif",
        "noisy_uncertainty.tif",
    ]
    assert tifffile.imread(tmp_path / "noisy_samples.tif").shape == (2, 4, 64, 64)


def test_no_model_is_a_notification(widget, notifications):
    widget.store.set_model(None)
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("No trained model" in str(n.message) for n in notifications)


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
    widget.image.value = viewer.layers["bad"]
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any(message in str(n.message) for n in notifications)
    assert len(viewer.layers) == 2


def test_fields_follow_the_sampling_settings(viewer):
    from napari_divnoising.core.prediction.config import MAX_SAMPLES, SamplingConfig
    from napari_divnoising.core.settings import field_spec

    widget = SamplingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    defaults = SamplingConfig()
    assert widget.n_samples.value == defaults.n_samples
    assert (widget.n_samples.min, widget.n_samples.max) == (1, MAX_SAMPLES)
    assert widget.n_samples.tooltip == field_spec(SamplingConfig, "n_samples").help
    assert widget.uncertainty.value is defaults.uncertainty
    assert widget.tile_size.value == 0  # chosen from the memory
    widget.n_samples.value, widget.keep_samples.value = 5, 7
    settings = widget.sampling_config()
    assert isinstance(settings, SamplingConfig)
    assert settings.tile_size is None and settings.keep_samples == 5


def test_a_tile_too_small_is_a_notification(widget, notifications):
    widget.tile_size.value = 8
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("tile_size" in str(n.message) for n in notifications)


def test_direct_mmse_becomes_one_layer_of_its_own(widget, viewer, qtbot, sample, tiny_model):
    from napari_divnoising.core.model.config import DirectConfig
    from napari_divnoising.core.training.direct import train_direct

    config = DirectConfig(depth=2, n_filters=4, patch_size=32, batch_size=4, max_steps=3, seed=0)
    with_direct = train_direct(tiny_model, sample.noisy, config=config, device="cpu")
    widget.store.set_model(with_direct, label="tiny, direct")
    widget.direct.value = True
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    made = [layer.name for layer in viewer.layers if layer.name.startswith("noisy_")]
    assert made == ["noisy_direct_mmse"]
    assert viewer.layers["noisy_direct_mmse"].data.shape == (4, 64, 64)


def test_direct_mmse_without_a_direct_network_says_how_to_train_one(widget, qtbot, notifications):
    widget.direct.value = True
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    assert any("--direct-from" in str(n.message) for n in notifications)
