"""Create pyqtgraph plots that die with the dock widget that holds them."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QWidget

__all__ = ["make_plot"]


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
