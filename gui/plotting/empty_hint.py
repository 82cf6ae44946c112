"""A plot with nothing to show says what to do instead of drawing meaningless axes.

pyqtgraph draws an empty plot as axes from 0 to 1 (or -400 to 400 "(x0.001)" for an empty image), which
looks broken. `EmptyHint(plot, text)` hides the plot's axes and legend and puts one centred sentence in its
view while `show()` is in force; `hide()` brings the axes back when there is data. The sentence sits in the
view's own pixel coordinates, so no range or zoom can move it off screen.
"""
from __future__ import annotations

import html

import pyqtgraph as pg

HINT_COLOUR = (110, 120, 135)
AXES = ("left", "bottom")


class EmptyHint:
    def __init__(self, plot, text: str, axes: tuple[str, ...] = AXES):
        self.plot: pg.PlotItem = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
        self.view: pg.ViewBox = self.plot.getViewBox()
        self.axes = axes
        self.item = pg.TextItem(anchor=(0.5, 0.5))
        self.item.setParentItem(self.view)  # view pixels, not data coordinates
        self.item.setZValue(100)
        self.view.sigResized.connect(self._place)
        self.shown = False
        self.show(text)

    @property
    def text(self) -> str:
        return self.item.textItem.toPlainText()

    def set_text(self, text: str) -> None:
        """The sentence it says while shown (showing nothing by itself)."""
        colour = "#%02x%02x%02x" % HINT_COLOUR
        self.item.setHtml(f'<div style="text-align:center; color:{colour}">{html.escape(text)}</div>')

    def show(self, text: str | None = None) -> None:
        """Hide the axes (and legend), show the sentence."""
        if self.shown and (text is None or text == self.text) and not self._axes_visible():
            return  # already so: hiding the axes again would lay the plot out and redraw it anew
        if text is not None:
            self.set_text(text)
        self.shown = True
        self._set_axes_visible(False)
        self.item.setVisible(True)
        self._place()

    def hide(self) -> None:
        """There is data: the axes (and legend) come back."""
        if not self.shown:
            return
        self.shown = False
        self._set_axes_visible(True)
        self.item.setVisible(False)

    def set_empty(self, empty: bool, text: str | None = None) -> None:
        if empty:
            self.show(text)
        else:
            self.hide()

    def _axes_visible(self) -> bool:
        """Whether any of its axes shows (a plot's own calls, such as naming an axis, can bring one back)."""
        return any(self.plot.getAxis(name).isVisible() for name in self.axes)

    def _set_axes_visible(self, visible: bool) -> None:
        for name in self.axes:
            self.plot.showAxis(name, visible)
        if self.plot.legend is not None:
            self.plot.legend.setVisible(visible)

    def _place(self, *_args) -> None:
        rect = self.view.boundingRect()
        self.item.textItem.setTextWidth(max(120.0, rect.width() - 24))  # long sentences wrap inside the view
        self.item.setPos(rect.center())
