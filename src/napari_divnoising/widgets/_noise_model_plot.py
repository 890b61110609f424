"""Plots that let a user judge a noise model: p(x|s) at a few signals, variance vs signal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from napari_divnoising.core.errors import InputError

from ._plots import make_plot, set_placeholder

if TYPE_CHECKING:
    from napari_divnoising.core.noise_model import NoiseModel
    from napari_divnoising.core.noise_model.diagnostics import DataEstimate

__all__ = ["NoiseModelPlot", "parse_levels"]

_COLOURS = [(80, 160, 255), (255, 150, 60), (120, 220, 120), (230, 90, 200), (240, 220, 80)]


def parse_levels(text: str) -> list[float]:
    """Read comma- or space-separated signal levels; raise ValueError with the bad entry."""
    levels = []
    for entry in text.replace(",", " ").split():
        try:
            levels.append(float(entry))
        except ValueError as err:
            raise InputError(
                f"signal levels must be numbers separated by commas (got {entry!r})"
            ) from err
    return levels


def _bins(grid: np.ndarray, n_bins: int = 40) -> np.ndarray:
    """Histogram edges over `grid`: whole numbers wide, centred on integers, for counts."""
    low, high = float(grid[0]), float(grid[-1])
    width = max(1.0, np.ceil((high - low) / n_bins))
    # Camera values are integers: edges at half-integers give every bin the same number
    # of possible values (no comb pattern); for float data this is merely a fine grid.
    return np.arange(np.floor(low) - 0.5, high + width, width)


#: What the empty plots say.
PLACEHOLDER = "The noise model appears here after Fit or Load"


class NoiseModelPlot(QWidget):
    """p(x|s) at user-chosen signals and variance against signal, model beside data."""

    def __init__(self, parent: QWidget | None = None) -> None:

        super().__init__(parent)
        levels_row = QHBoxLayout()
        levels_row.addWidget(QLabel("p(x|s) at signals"))
        self.levels = QLineEdit()
        levels_row.addWidget(self.levels, 1)
        self.levels.setPlaceholderText("signal levels, e.g. 20, 60, 120")
        self.levels.setToolTip("Signals at which to draw p(x|s); press Enter to redraw")
        self.levels.editingFinished.connect(self.redraw)
        self.density_plot = make_plot(self, title="p(x | s)")
        self.density_plot.setLabel("bottom", "observation x (raw units)")
        self.density_plot.setLabel("left", "probability density")
        self.density_plot.addLegend(offset=(-10, 10))
        self.variance_plot = make_plot(self, title="variance vs signal")
        self.variance_plot.setLabel("bottom", "signal s (raw units)")
        self.variance_plot.setLabel("left", "noise variance (raw units²)")
        self.variance_plot.addLegend(offset=(10, 10))
        for plot in (self.density_plot, self.variance_plot):
            plot.setMinimumHeight(170)
            plot.showGrid(x=True, y=True, alpha=0.25)
        self.message = QLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(levels_row)
        layout.addWidget(self.density_plot)
        layout.addWidget(self.variance_plot)
        layout.addWidget(self.message)
        self.noise_model: NoiseModel | None = None
        self.data: DataEstimate | None = None
        self.redraw()

    def show_model(self, noise_model: NoiseModel, data: DataEstimate | None = None) -> None:
        """Draw `noise_model` (and the data it was fitted on, when given)."""
        self.noise_model, self.data = noise_model, data
        low, high = noise_model.min_signal, noise_model.max_signal
        defaults = low + (high - low) * np.array([0.1, 0.35, 0.6, 0.85])
        self.levels.setText(", ".join(f"{level:.4g}" for level in defaults))
        self.redraw()

    def redraw(self) -> None:
        """Redraw both plots for the current model and signal levels."""
        import pyqtgraph as pg

        self.density_plot.clear()
        self.variance_plot.clear()
        model = self.noise_model
        for plot in (self.density_plot, self.variance_plot):
            set_placeholder(plot, PLACEHOLDER if model is None else "")
        if model is None:
            return
        try:
            levels = parse_levels(self.levels.text())
        except ValueError as err:
            self.message.setText(str(err))
            return
        self.message.setText("")
        for index, level in enumerate(levels[: len(_COLOURS)]):
            colour = _COLOURS[index]
            std = float(np.sqrt(model.variance(np.array([level]))[0]))
            grid = np.linspace(level - 5 * std, level + 5 * std, 300)
            density = model.density(grid, level)
            self.density_plot.plot(
                grid, density, pen=pg.mkPen(colour, width=2), name=f"s = {level:.4g}"
            )
            if self.data is not None:
                near = np.abs(self.data.signal - level) < 0.02 * (
                    model.max_signal - model.min_signal
                )
                if near.sum() >= 100:
                    counts, edges = np.histogram(
                        self.data.observation[near], bins=_bins(grid), density=True
                    )
                    self.density_plot.plot(
                        edges,
                        counts,
                        stepMode="center",
                        pen=pg.mkPen(colour, style=pg.QtCore.Qt.PenStyle.DotLine),
                    )
        signal = np.linspace(model.min_signal, model.max_signal, 200)
        self.variance_plot.plot(
            signal, model.variance(signal), pen=pg.mkPen(_COLOURS[0], width=2), name="model"
        )
        if self.data is not None and len(self.data.bin_signal):
            self.variance_plot.plot(
                self.data.bin_signal,
                self.data.bin_variance,
                pen=None,
                symbol="o",
                symbolSize=6,
                symbolBrush=_COLOURS[1],
                name="fitted pairs",
            )
        local = self.data.local if self.data is not None else None
        if local is not None:
            # Independent of the fitted pairs' signal: this one can disagree with the model.
            shown = (local.count >= 100) & np.isfinite(local.empirical)
            self.variance_plot.plot(
                local.signal[shown],
                local.empirical[shown],
                pen=None,
                symbol="t",
                symbolSize=8,
                symbolBrush=_COLOURS[2],
                name="images' local statistics",
            )
