import numpy as np
import pytest

from napari_divnoising.widgets._loss_plot import LossPlot

pytestmark = pytest.mark.gui


@pytest.fixture
def plot(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    return plot


def test_points_are_drawn_per_epoch(plot):
    plot.add_point(1, 2.0, 2.5)
    plot.add_point(2, 1.5, None)
    x, y = plot._train.getData()
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_array_equal(y, [2.0, 1.5])
    _, validation = plot._validation.getData()
    assert validation[0] == 2.5 and np.isnan(validation[1])


def test_log_scale_hides_non_positive_losses_and_says_so(plot):
    plot.set_history(
        [
            {"epoch": 1, "train_loss": 0.5, "val_loss": -0.2},
            {"epoch": 2, "train_loss": 0.1, "val_loss": 0.05},
        ]
    )
    plot.log_scale.setChecked(True)
    assert plot.plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert plot.note.text() == "1 non-positive value(s) not shown"
    plot.log_scale.setChecked(False)
    assert plot.note.text() == ""
    assert plot.val_loss == [-0.2, 0.05]


def test_clear(plot):
    plot.add_point(1, 1.0, 1.0)
    plot.clear()
    assert plot.epochs == []
    assert len(plot._train.getData()[0] if plot._train.getData()[0] is not None else []) == 0
