"""A live plot of the training and validation loss per epoch.

pyqtgraph rather than matplotlib: it draws on Qt's own graphics scene, so adding a point
is a cheap ``setData`` on the main thread (no figure re-render, no canvas backend), it
follows the dock's size and theme like any Qt widget, and it imports in a fraction of
matplotlib's time. That keeps the viewer responsive while training updates the plot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qtpy.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ._plots import integer_axis, make_plot, set_placeholder

__all__ = ["LossPlot"]

TRAIN_COLOUR = (80, 160, 255)
VALIDATION_COLOUR = (255, 150, 60)
#: What the empty plot says.
PLACEHOLDER = "The training and validation losses appear here as each epoch ends"


class LossPlot(QWidget):
    """Training and validation loss against epoch, with a linear/log toggle.

    Parameters
    ----------
    parent : QWidget, optional
        Parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        import pyqtgraph as pg

        super().__init__(parent)
        self.plot = make_plot(self, axisItems={"bottom": integer_axis("bottom")})
        self.plot.setMinimumHeight(180)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss (nats per pixel)")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10))
        self._train = self.plot.plot(
            name="training",
            pen=pg.mkPen(TRAIN_COLOUR, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=TRAIN_COLOUR,
        )
        self._validation = self.plot.plot(
            name="validation",
            pen=pg.mkPen(VALIDATION_COLOUR, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=VALIDATION_COLOUR,
        )
        self.log_scale = QCheckBox("log scale")
        self.log_scale.setToolTip("Show the loss on a logarithmic axis (positive losses only)")
        self.log_scale.toggled.connect(self._redraw)
        self.note = QLabel("")
        controls = QHBoxLayout()
        controls.addWidget(self.log_scale)
        controls.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addLayout(controls)
        self.epochs: list[float] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self._redraw()

    def add_point(self, epoch: float, train_loss: float, val_loss: float | None) -> None:
        """Append one epoch's losses and redraw."""
        self.epochs.append(float(epoch))
        self.train_loss.append(float(train_loss))
        self.val_loss.append(float("nan") if val_loss is None else float(val_loss))
        self._redraw()

    def set_history(self, history: Iterable[Mapping[str, Any]]) -> None:
        """Show a saved model's history (entries with ``epoch``, ``train_loss``, ``val_loss``)."""
        self.clear()
        for entry in history:
            self.epochs.append(float(entry["epoch"]))
            self.train_loss.append(float(entry["train_loss"]))
            val_loss = entry.get("val_loss")
            self.val_loss.append(float("nan") if val_loss is None else float(val_loss))
        self._redraw()

    def clear(self) -> None:
        """Remove every point."""
        self.epochs, self.train_loss, self.val_loss = [], [], []
        self._redraw()

    def _redraw(self, *_: Any) -> None:
        log = self.log_scale.isChecked()
        epochs = np.asarray(self.epochs)
        curves = [np.asarray(self.train_loss), np.asarray(self.val_loss)]
        hidden = 0
        if log:
            # DivNoising losses can be negative (a density can exceed 1); a log axis can
            # only show the positive ones, so say how many are hidden.
            hidden = sum(int(np.sum(curve <= 0)) for curve in curves)
            curves = [np.where(curve > 0, curve, np.nan) for curve in curves]
        self.plot.setLogMode(x=False, y=log)
        for item, curve in zip((self._train, self._validation), curves, strict=True):
            item.setData(epochs, curve, connect="finite")
        self.note.setText(f"{hidden} non-positive value(s) not shown" if hidden else "")
        set_placeholder(self.plot, "" if len(epochs) else PLACEHOLDER)
