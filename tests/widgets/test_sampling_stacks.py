"""The Sampling dock on lazy stacks: the plane on display, and the whole stack to OME-Zarr."""

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_divnoising.core.prediction.to_zarr import predict_to_zarr
from napari_divnoising.widgets._sampling_choices import SCOPES
from napari_divnoising.widgets.sampling import SamplingWidget

from .conftest import wait_for

pytestmark = pytest.mark.gui


@pytest.fixture
def zarr_stack(tmp_path, sample):
    stack = zarr.create_array(
        str(tmp_path / "in.zarr"), shape=sample.noisy.shape, chunks=(1, 64, 64), dtype="float32"
    )
    stack[:] = sample.noisy
    return stack


@pytest.fixture
def widget(viewer, zarr_stack, tiny_model):
    viewer.add_image(zarr_stack, name="lazy", scale=(2.0, 0.5, 0.5))
    widget = SamplingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.store.set_model(tiny_model, label="tiny")
    widget.image.value = viewer.layers["lazy"]
    widget.n_samples.value = 3
    return widget


def test_the_current_plane_is_denoised_alone_and_shown_at_its_place(
    widget, viewer, qtbot, zarr_stack, tiny_model, tmp_path
):
    viewer.dims.set_point(0, 2 * 2.0)  # plane 2 (world units: the layer's scale is 2)
    widget.scope.value = SCOPES[1]
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    layer = viewer.layers["lazy_mmse (plane)"]  # a preview of its own, not the stack's name
    assert layer.data.shape == (1, 64, 64)
    np.testing.assert_allclose(layer.translate, (4.0, 0.0, 0.0))
    np.testing.assert_allclose(viewer.layers["lazy"].translate, (0.0, 0.0, 0.0))
    whole = predict_to_zarr(zarr_stack, tiny_model, tmp_path / "ref", n_samples=3, seed=0)
    reference = zarr.open_array(str(whole.images["mmse"] / "0"))[2]
    np.testing.assert_allclose(layer.data[0], reference, rtol=1e-5, atol=1e-4)
    assert isinstance(viewer.layers["lazy"].data, zarr.Array)  # the input is untouched


def test_the_whole_stack_goes_to_ome_zarr_and_comes_back_lazily(widget, viewer, qtbot, tmp_path):
    widget.scope.value = SCOPES[2]
    widget.zarr_folder.value = tmp_path / "results"
    widget.uncertainty.value = True
    widget.runner.run_button.click()
    wait_for(qtbot, widget.runner)
    for name in ("lazy_mmse", "lazy_restored", "lazy_uncertainty"):
        layer = viewer.layers[name]
        assert isinstance(layer.data, da.Array) and layer.data.shape == (4, 64, 64)
        np.testing.assert_allclose(layer.scale, (2.0, 0.5, 0.5))
    assert (tmp_path / "results" / "lazy_mmse.ome.zarr").is_dir()
    assert "4 planes of 'lazy'" in widget.runner.status.text()
    widget.runner.run_button.click()  # the same run again: nothing left to compute
    wait_for(qtbot, widget.runner)
    assert "4 done by an earlier run" in widget.runner.status.text()


def test_the_whole_stack_needs_a_folder(widget, viewer, notifications):
    widget.scope.value = SCOPES[2]
    widget.runner.run_button.click()
    assert not widget.runner.running
    assert any("Choose the OME-Zarr folder" in str(n.message) for n in notifications)
    assert "lazy_mmse" not in [layer.name for layer in viewer.layers]


def test_a_large_lazy_layer_is_not_read_whole(widget, viewer, notifications, monkeypatch):
    from napari_divnoising.widgets import _lazy_layers

    monkeypatch.setattr(_lazy_layers, "IN_MEMORY_LIMIT_BYTES", 1000)
    widget.runner.run_button.click()
    assert any("too large to denoise in memory" in str(n.message) for n in notifications)
