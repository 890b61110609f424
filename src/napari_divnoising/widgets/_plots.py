"""Create pyqtgraph plots that die with the dock widget that holds them, with placeholders."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QWidget

__all__ = ["integer_axis", "make_plot", "set_placeholder"]


def make_plot(owner: QWidget, **kwargs: Any) -> Any:
    """Return a ``pyqtgraph.PlotWidget`` whose context menus are children of `owner`.

    pyqtgraph creates its right-click menus without a Qt parent, so they outlive a closed
    dock for as long as Python holds the plot (a console variable, a traceback).
    Parenting them to `owner` makes Qt delete them with the dock.

    Parameters
    ----------
    owner : QWidget
        The widget the plot is shown in.
    **kwargs
        Passed to ``pyqtgraph.PlotWidget``.

    Returns
    -------
    pyqtgraph.PlotWidget
        The plot.
    """
    import pyqtgraph as pg

    plot = pg.PlotWidget(**kwargs)
    item = plot.getPlotItem()
    for menu in (item.ctrlMenu, item.getViewBox().menu):
        if menu is not None:
            menu.setParent(owner, menu.windowFlags())
    return plot


def set_placeholder(plot: Any, text: str) -> None:
    """Show `text` in the middle of an empty `plot` ("" removes it).

    An empty plot otherwise shows bare 0–1 axes, which look like a broken result.
    """
    import pyqtgraph as pg

    item = getattr(plot, "_placeholder", None)
    if item is None:
        item = pg.TextItem(anchor=(0.5, 0.5), color="#9a9a9a")
        item.setParentItem(plot.getPlotItem().getViewBox())
        plot._placeholder = item
        plot.getPlotItem().getViewBox().sigResized.connect(lambda *_: _centre(plot))
    item.setText(text)
    item.setVisible(bool(text))
    _centre(plot)


def _centre(plot: Any) -> None:
    view = plot.getPlotItem().getViewBox()
    rect = view.boundingRect()
    plot._placeholder.setPos(rect.center())


def integer_axis(orientation: str) -> Any:
    """Return a pyqtgraph axis that only ticks whole numbers (epochs, not 1.2, 1.4, …)."""
    import pyqtgraph as pg

    class IntegerAxis(pg.AxisItem):
        def tickValues(self, minVal, maxVal, size):  # pyqtgraph's own names
            levels = []
            for spacing, values in super().tickValues(minVal, maxVal, size):
                if spacing >= 1:
                    levels.append((spacing, [v for v in values if float(v).is_integer()]))
            if not levels:  # zoomed in to less than one epoch: the whole numbers in view
                levels = [(1.0, [float(v) for v in range(int(minVal), int(maxVal) + 2)])]
            return levels

        def tickStrings(self, values, scale, spacing):
            return [f"{value * scale:.0f}" for value in values]

    return IntegerAxis(orientation)
