"""Y ranges for live curves.

A flat series (a constant learning rate, a loss stuck at one value) gets a y range around its value:
pyqtgraph gives a zero-height range a fixed +-0.5 (or worse after padding), so lr = 1e-3 sits as a line at
the bottom of -0.5..0.5, and the axis says nothing. A flat series is shown at +-50% of its value instead
(+-1 around 0).

A growing series is auto-ranged in steps (`follow_in_steps`): pyqtgraph's auto range refits y at every new
minimum, and each refit redraws the axis, its grid and the whole plot (measured: the live loss plot's y axis
was drawn again at 28 of 67 redraws, most of the window's CPU while a run trains). The range moves only when
the data leaves it or fills less than half of it, with headroom, so a falling loss moves it a few times a run.
"""
from __future__ import annotations

import math

import numpy as np

FLAT_RELATIVE = 1e-9
HEADROOM = 0.1  # of the data's span, above and below, each time the stepped range moves
TRAVEL = 0.5  # of the data's span, on the side the data left the range
REFIT_BELOW = 0.5  # the stepped range is fitted again once the data spans less than this share of it


def flat_range(arrays) -> tuple[float, float] | None:
    """(low, high) when every finite value of `arrays` is (nearly) the same number, else None."""
    lows, highs = [], []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            lows.append(finite.min())
            highs.append(finite.max())
    if not lows:
        return None
    low, high = min(lows), max(highs)
    scale = max(abs(low), abs(high))
    if high - low > FLAT_RELATIVE * max(scale, 1e-300):
        return None
    pad = 0.5 * scale if scale > 0 else 1.0
    return low - pad, high + pad


def keep_flat_series_visible(plot, arrays) -> None:
    """Give `plot` a sensible y range if its data is flat; otherwise let it auto-range (y only)."""
    span = flat_range(arrays)
    if span is not None:
        _set_y(plot, span)
        plot._flat_range_set = True
    elif getattr(plot, "_flat_range_set", False):
        plot._flat_range_set = False
        plot.enableAutoRange(axis="y")


def follow_in_steps(plot, arrays) -> None:
    """Auto range in steps for `plot` (y only) over `arrays`: while pyqtgraph's y auto range is on (from the
    start, after enableAutoRange, or the user's "A" button) this takes it over; once the user zooms or pans,
    the range is theirs until auto range is turned on again. Flat data gets flat_range's range."""
    view = plot.getViewBox()
    if not getattr(plot, "_steps_hooked", False):
        plot._steps_hooked = True
        view.sigRangeChangedManually.connect(lambda *_: setattr(plot, "_in_steps", False))
    auto = bool(view.state["autoRange"][1])
    if auto:
        plot._in_steps = True
    elif not getattr(plot, "_in_steps", False):
        return
    lows, highs = [], []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        if values.size:
            lows.append(np.nanmin(values))
            highs.append(np.nanmax(values))
    if not lows or not (math.isfinite(min(lows)) and math.isfinite(max(highs))):
        return
    low, high = float(min(lows)), float(max(highs))
    flat = flat_range([[low, high]])
    if flat is not None:
        _set_y(plot, flat)
        return
    shown_low, shown_high = view.viewRange()[1]
    if auto or low < shown_low or high > shown_high or high - low < REFIT_BELOW * (shown_high - shown_low):
        span = high - low
        # The side the data left gets more room: it is moving that way (a falling loss, a growing lr).
        below = TRAVEL if not auto and low < shown_low else HEADROOM
        above = TRAVEL if not auto and high > shown_high else HEADROOM
        _set_y(plot, (low - below * span, high + above * span))  # turns pyqtgraph's y auto range off


def _set_y(plot, span) -> None:
    """setYRange, skipped when the range is already that (a range set again still redraws the axis)."""
    low, high = plot.getViewBox().viewRange()[1]
    if not plot.getViewBox().state["autoRange"][1] and math.isclose(low, span[0]) and math.isclose(high, span[1]):
        return
    plot.setYRange(*span, padding=0)
