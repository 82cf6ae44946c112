"""Evaluate tab responsiveness: a confusion-matrix click on a cell of N images until the first thumbnails are
on screen (cell_to_gallery_ms), and how late a 10 ms GUI timer fires while the gallery fills (gallery_ui_p99_ms).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/evaluate_gui.py [--images 1000] [--size 256] [--repeats 5]

The images are N JPEG photos-like files (noise + gradients, --size pixels) written to a temporary folder; the
evaluation is made up (every image in one cell) since only the GUI side is measured here; benchmarks/evaluate.py
measures the evaluation. Prints a table, then as the LAST line a JSON object.
Targets (issue 10): cell_to_gallery_ms <= 100, gallery_ui_p99_ms <= 16.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]  # benchmarks/inspect.py shadows
sys.path.insert(0, os.path.dirname(_HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TIMER_MS = 10


def write_images(folder: Path, count: int, size: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    files = []
    for i in range(count):
        pixels = (ramp[None, :, None] * rng.random(3) + rng.normal(0, 30, (size, size, 3))).clip(0, 255)
        path = folder / f"img_{i:05d}.jpg"
        Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
        files.append(str(path))
    return files


def measure(panel, app, cell) -> tuple[float, list[float]]:
    """One click: ms to the first thumbnails painted, and the timer's lateness (ms) until the gallery is full."""
    from PySide6.QtCore import QTimer

    gallery = panel.gallery
    lateness, state = [], {"first": None, "last": time.perf_counter()}

    def tick():
        now = time.perf_counter()
        lateness.append(max(0.0, (now - state["last"]) * 1000 - TIMER_MS))
        state["last"] = now

    def first():
        gallery.viewport().repaint()  # painted, not only queued
        state["first"] = time.perf_counter()

    gallery.firstThumbnails.connect(first)
    timer = QTimer()
    timer.setInterval(TIMER_MS)
    timer.timeout.connect(tick)
    timer.start()
    start = time.perf_counter()
    state["last"] = start
    panel.show_cell(*cell)
    total = len(gallery.model_.items)
    deadline = start + 120
    while (state["first"] is None or len(gallery.model_.pixmaps) < total) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    gallery.firstThumbnails.disconnect(first)
    return (state["first"] - start) * 1000, lateness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from core.evaluate import EvalResult
    from gui.app import make_application
    from gui.evaluate.eval_panel import EvaluatePanel
    from gui.model_hub import ModelHub

    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_images(Path(tmp), args.images, args.size)
        rng = np.random.default_rng(1)
        probs = np.zeros((args.images, 2))
        probs[:, 1] = rng.uniform(0.5, 1.0, args.images)  # all true 0, predicted 1: one cell of N images
        probs[:, 0] = 1 - probs[:, 1]
        result = EvalResult(["a", "b"], files, np.zeros(args.images, dtype=np.int64), probs, "benchmark")
        panel = EvaluatePanel(ModelHub())
        panel.resize(1200, 800)
        panel.show()
        panel.show_result(result)
        app.processEvents()
        firsts, late = [], []
        for _ in range(args.repeats):
            panel.show_cell(1, 1)  # an empty cell in between: the next click starts from a clear gallery
            first_ms, lateness = measure(panel, app, (0, 1))
            firsts.append(first_ms)
            late += lateness
        panel.shutdown()
        panel.deleteLater()  # deleted by Qt while the application lives, not by Python's exit
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    cell_ms = float(np.median(firsts))
    p99 = float(np.percentile(late, 99)) if late else 0.0
    print(f"{'measure':34}{'value':>10}{'target':>10}")
    print(f"{'cell_to_gallery_ms (median)':34}{cell_ms:>10.1f}{'<= 100':>10}")
    print(f"{'cell_to_gallery_ms (max)':34}{max(firsts):>10.1f}")
    print(f"{'gallery_ui_p99_ms (timer lateness)':34}{p99:>10.1f}{'<= 16':>10}")
    print(f"{args.images} JPEG files of {args.size}px in one cell, {args.repeats} clicks, {len(late)} timer ticks")
    print(json.dumps({"images": args.images, "size": args.size, "repeats": args.repeats,
                      "cell_to_gallery_ms": round(cell_ms, 1), "cell_to_gallery_ms_max": round(max(firsts), 1),
                      "gallery_ui_p99_ms": round(p99, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
