"""The range test's picture: raw losses as points, the trend (the curve the band is read off) as a line, the suggested band shaded,
learning rate on a log axis. matplotlib's object API (Figure + Agg canvas, no pyplot): safe off the main thread
and never opens a window."""
from __future__ import annotations

import io
import math


def curve_png(result, size=(7.0, 4.2), dpi=110) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curve, band = result.curve, result.band
    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    ax.set_xscale("log")
    ax.scatter(curve.lrs, curve.losses, s=8, color="#9aa7b8", label="loss per step")
    line = curve.trend or curve.smoothed
    ax.plot(curve.lrs, line, color="#1f5fbf", linewidth=2, label="trend")
    if math.isfinite(band.low) and math.isfinite(band.high):
        ax.axvspan(band.low, band.high, color="#3cb371", alpha=0.2,
                   label=f"suggested {band.low:.1e} .. {band.high:.1e}")
    _limit_y(ax, line)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"learning-rate range test ({len(curve.lrs)} steps, {curve.stop_reason})")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _limit_y(ax, line) -> None:
    """The exploding tail would squash the interesting part: show up to a bit above the starting loss."""
    finite = [v for v in line if math.isfinite(v)]
    if finite:
        low, top = min(finite), max(finite[: max(1, len(finite) // 5)])
        ax.set_ylim(low - 0.05 * abs(low), top * 1.3 + 1e-9)
