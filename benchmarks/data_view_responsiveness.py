"""How responsive the Data tab stays while it opens a large image folder.

Opens FOLDER in the Data tab (health scan, browser listing, thumbnails, augmentation preview all start) and
measures how late a 10 ms GUI timer fires meanwhile: the worst and the 99th-percentile delay of the event
loop, i.e. how long the window would be frozen. Also how long the health report and listing take.
The engine (torch) is imported first, as the app does right after its window shows.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.data_view_responsiveness FOLDER [--no-freeze] [--warm-cache]
"""
from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gui.data import DataView


def main(folder: str) -> None:
    # The app imports the engine right after its window shows; measure the Data tab, not that import.
    import core.data.health  # noqa: F401
    import core.data.preview  # noqa: F401
    from gui.torch_loader import import_torch_and_core

    if "--no-freeze" in sys.argv:  # to compare: the engine's imports without gc.freeze()
        import gc

        gc.freeze = lambda: None
    import_torch_and_core()

    # A cold, throw-away thumbnail cache: every run decodes what it shows (--warm-cache: the user's cache).
    if "--warm-cache" not in sys.argv:
        import os
        import tempfile

        os.environ["LAYERSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="layerscope-bench-")
    app = QApplication.instance() or QApplication(sys.argv)
    view = DataView()
    view.resize(1300, 800)
    view.show()
    gaps: list[float] = []
    marks: dict[str, float] = {}
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000 - 10)
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    # Baseline: the same timer for 3 s with nothing loading (a busy machine delays it too).
    end = time.perf_counter() + 3
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    baseline, gaps[:] = sorted(gaps), []
    start = time.perf_counter()
    view.browser.loaded.connect(lambda: marks.setdefault("listing", time.perf_counter() - start))
    view.health.report_ready.connect(lambda r: marks.setdefault("report", time.perf_counter() - start))

    def scroll() -> None:  # scroll the grid as a user would, asking for new thumbnails
        bar = view.browser.view.verticalScrollBar()
        bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep()))

    scroller = QTimer()
    scroller.timeout.connect(scroll)
    scroller.start(100)
    view.open_dataset(folder)
    deadline = time.perf_counter() + 300
    while "report" not in marks and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    scroller.stop()
    report = view.health.report()
    view.shutdown()
    view.deleteLater()  # before the interpreter tears down the Python wrappers
    app.processEvents()
    gaps.sort()
    p99 = gaps[int(len(gaps) * 0.99)] if gaps else float("nan")
    print(f"folder: {folder}  files: {report.total_files if report else '?'}")
    print(f"listing shown after {marks.get('listing', float('nan')):.2f} s; health report after {marks.get('report', float('nan')):.2f} s")
    print(f"GUI timer delay while opening, over {len(gaps)} ticks: p99 {p99:.1f} ms, worst {gaps[-1]:.1f} ms")
    print(f"GUI timer delay at rest (baseline), over {len(baseline)} ticks: "
          f"p99 {baseline[int(len(baseline) * 0.99)]:.1f} ms, worst {baseline[-1]:.1f} ms")


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if not a.startswith("--")][0])
