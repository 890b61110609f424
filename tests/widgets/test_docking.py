"""Every dock widget opens from the npe2 manifest, and closing it leaves nothing behind."""

import pytest

from napari_divnoising.widgets._base import DockWidget

pytestmark = pytest.mark.gui

DISPLAY_NAMES = {
    "Noise model": "NoiseModelWidget",
    "Training": "TrainingWidget",
    "Sampling": "SamplingWidget",
    "Quality control": "QualityControlWidget",
}


@pytest.mark.parametrize("display_name", DISPLAY_NAMES)
def test_widget_docks_from_the_manifest_and_undocks(viewer, display_name):
    dock, widget = viewer.window.add_plugin_dock_widget("napari-divnoising", display_name)
    assert type(widget).__name__ == DISPLAY_NAMES[display_name]
    assert isinstance(widget, DockWidget)
    assert getattr(widget.viewer, "__wrapped__", widget.viewer) is viewer
    viewer.window.remove_dock_widget(dock)
    assert widget.parent() is None
    assert not widget._listeners


def test_widgets_of_one_viewer_share_one_store(viewer):
    _, fit = viewer.window.add_plugin_dock_widget("napari-divnoising", "Noise model")
    _, train = viewer.window.add_plugin_dock_widget("napari-divnoising", "Training")
    assert fit.store is train.store


def test_layer_lists_follow_the_viewer(viewer):
    import numpy as np

    _, widget = viewer.window.add_plugin_dock_widget("napari-divnoising", "Sampling")
    assert widget.image.choices == ()
    viewer.add_image(np.ones((8, 8)), name="late")
    assert [layer.name for layer in widget.image.choices] == ["late"]
