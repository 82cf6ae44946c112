"""A range test's files: lr_find.csv (step, lr, loss, smoothed, trend), lr_find.json (the band, the single-point
suggestions, what was tried) and lr_find.png (raw points, smoothed curve, band shaded; log axis).
All written atomically; core.runs.layout names them (LR_FIND_CSV, _JSON, _PNG). In a run folder they go in
RUN/lr_find/ (RunLayout.lr_find); `lr-find --out DIR` writes them straight into DIR."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from core.io.atomic import atomic_write, write_text_atomic
from core.runs.layout import LR_FIND_CSV, LR_FIND_JSON, LR_FIND_PNG

FILES_VERSION = 1


def write_files(result, out_dir: str | Path, *, picture: bool = True) -> dict[str, Path]:
    """result: a core.tuning.lr.LRFindResult. Returns {"csv": path, "json": path, "png": path}."""
    out_dir = Path(out_dir)
    files = {"csv": write_text_atomic(out_dir / LR_FIND_CSV, curve_csv(result.curve)),
             "json": write_text_atomic(out_dir / LR_FIND_JSON, json.dumps(summary(result), indent=2))}
    if picture:
        from core.tuning.lr.plot import curve_png

        png = curve_png(result)
        files["png"] = atomic_write(out_dir / LR_FIND_PNG, lambda fh: fh.write(png))
    return files


def curve_csv(curve) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["step", "lr", "loss", "smoothed", "trend"])
    trend = curve.trend or [math.nan] * len(curve.lrs)
    for i, (lr, loss, smooth, middle) in enumerate(zip(curve.lrs, curve.losses, curve.smoothed, trend), start=1):
        writer.writerow([i, f"{lr:.6g}", _number(loss), _number(smooth), _number(middle)])
    return text.getvalue()


def summary(result) -> dict:
    curve = result.curve
    return {"version": FILES_VERSION, "band": {"low": result.band.low, "high": result.band.high},
            "suggestions": {k: _finite(v) for k, v in result.band.to_dict().items() if k not in ("low", "high", "note")},
            "note": result.band.note,
            "tried": {"start_lr": curve.start_lr, "end_lr": curve.end_lr, "steps_planned": curve.steps_planned,
                      "steps_done": len(curve.lrs), "stop_reason": curve.stop_reason},
            "settings": dict(result.settings_summary)}


def _number(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else ""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
