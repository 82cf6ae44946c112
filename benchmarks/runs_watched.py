"""watched_throughput_ratio: does watching a run slow it down? The same `layerscope train` subprocess (shapes,
small CNN, CPU) runs unwatched, then while this process follows it the way the window does (a RunHandle polling
its run folder on the GUI's background-work primitive, its records drawn by the Train tab's plots, progress
bars and log, the Qt event loop running). Throughput is the engine's own images/s over the training epochs
(its epoch records), so start-up time does not count. Runs alternate unwatched / watched; the ratio is the
median of the pairs' watched / unwatched. Target >= 0.98 (issue 8)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _train(out: Path, images: int, epochs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--shapes-count", str(images), "--image-size",
                             "28", "--batch-size", "32", "--epochs", str(epochs), "--device", "cpu", "--quiet",
                             "--out", str(out)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _images_per_s(out: Path) -> float:
    from core.runs.layout import RunLayout
    from core.runs.records import RecordError, decode

    speeds = []
    for line in RunLayout(out).metrics.read_bytes().splitlines():
        try:
            record = decode(line)
        except RecordError:
            continue
        if record.kind == "epoch" and record.get("images_per_sec"):
            speeds.append(record["images_per_sec"])
    return statistics.mean(speeds) if speeds else float("nan")


def _watched(app, out: Path, images: int, epochs: int) -> float:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from gui.log_panel import LogPanel
    from gui.training.run_handle import RunHandle
    from gui.training.plots import TrainingPlots
    from gui.training.progress import ProgressPanel
    from gui.training.record_view import RecordView

    window = QWidget()
    layout = QVBoxLayout(window)
    plots, progress, log = TrainingPlots(), ProgressPanel(), LogPanel()
    for widget in (progress, plots, log):
        layout.addWidget(widget)
    window.resize(1200, 800)
    window.show()
    view = RecordView(plots, progress, log)
    out.mkdir(parents=True)
    watch = RunHandle(out)
    watch.recordsArrived.connect(view.show)
    watch.start()
    proc = _train(out, images, epochs)
    loop, timer = QEventLoop(), QTimer()

    def check() -> None:  # the event loop sleeps between events, as the app's does
        code = proc.poll()
        if code not in (None, 0) or (code == 0 and watch.status in ("finished", "failed", "stopped")):
            loop.quit()

    timer.timeout.connect(check)
    timer.start(100)
    loop.exec()
    timer.stop()
    watch.shutdown()
    shown = view.records_shown
    window.close()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.read().decode()[-400:])
    assert shown > 0, "the watcher saw no records"
    return _images_per_s(out)


def section_watched(results: dict, work: Path, app, quick: bool) -> None:
    images, epochs, pairs = (1000, 2, 1) if quick else (3000, 3, 2)
    ratios, plain, watched = [], [], []
    for i in range(pairs):
        proc = _train(work / f"plain-{i}", images, epochs)
        if proc.wait() != 0:
            raise RuntimeError(proc.stderr.read().decode()[-400:])
        plain.append(_images_per_s(work / f"plain-{i}"))
        watched.append(_watched(app, work / f"watched-{i}", images, epochs))
        ratios.append(watched[-1] / plain[-1])
    results["unwatched_images_per_s"] = statistics.median(plain)
    results["watched_images_per_s"] = statistics.median(watched)
    results["watched_throughput_ratio"] = statistics.median(ratios)
