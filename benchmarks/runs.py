"""Speed and scale of the Runs tab (issue 8). Not a test: it prints a table and, as its last line, one JSON
object with every number measured.

Makes synthetic run folders itself (in a temporary folder, removed at the end) and measures:
  list_1000_runs_s       1,000 run folders: from Refresh until every row is in the table
  list_10000_runs_s      10,000 run folders, the same (must stay usable)
  rescan_10000_runs_s    a second scan of the 10,000 (nothing changed: stats only)
  scan_ui_p99_ms         how late a 16 ms GUI timer fires while the 1,000 are scanned (p99 of the lateness);
                         scan_ui_cpu_max_ms: the most GUI-thread CPU between two ticks (the window's own work,
                         apart from waiting for a core or the GIL)
  overlay_redraw_p99_ms  10 runs x 100,000 steps overlaid: one pan + repaint of the plots, p99
  million_redraw_p99_ms  1 run x 1,000,000 steps, the same; million_spike_kept: the one spike is drawn
  *_cpu_p99_ms           the same redraws in GUI-thread CPU time (= wall time on an idle machine)

  follow_lag_p99_s       a writer process appends 2,000 step records a second; how late RunFollower.poll()
                         returns them (benchmarks/runs_follow.py, from runs-core)
  watched_throughput_ratio  a CLI training run followed by the Train tab's views (RunHandle + plots) vs the
                         same run unwatched, images/s from its epoch records (benchmarks/runs_watched.py)

Each section takes the results dict and adds its keys, so one run prints one table and one JSON line; a new
measurement is one more function in SECTIONS.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.runs [--quick]
"""
from __future__ import annotations

import sys
from pathlib import Path

# Runnable as `python benchmarks/runs.py` too: the repository root, not benchmarks/, on the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.runs_follow import section_follow  # noqa: E402
from core.runs.layout import RunLayout  # noqa: E402
from benchmarks.runs_watched import section_watched  # noqa: E402

EPOCHS, STEPS_PER_EPOCH = 3, 30  # a small run's metrics.jsonl (~7 KB)


def write_run(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True)
    RunLayout(folder).config.write_text(json.dumps({
        "version": 1, "data": {"name": "shapes", "train_count": 8000}, "model_name": ["cnn", "mlp"][seed % 2],
        "train": {"epochs": EPOCHS, "lr": 0.001 * (1 + seed % 5), "batch_size": 32, "seed": seed}}, indent=2))
    t, step, lines = 1.7e9 + seed, 0, []
    lines.append({"version": 1, "kind": "start", "time": t, "epochs": EPOCHS, "start_epoch": 0,
                  "batches_per_epoch": STEPS_PER_EPOCH, "total_steps": EPOCHS * STEPS_PER_EPOCH})
    for epoch in range(1, EPOCHS + 1):
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            lines.append({"version": 1, "kind": "step", "time": t + step, "step": step, "loss": 2.0 / step,
                          "lr": 0.001})
        lines.append({"version": 1, "kind": "epoch", "time": t + step, "epoch": epoch, "step": step,
                      "val_loss": 1.0 / epoch, "val_acc": 0.5 + 0.1 * epoch, "train_loss": 1.0 / epoch})
    lines.append({"version": 1, "kind": "end", "time": t + step + 1, "epoch": EPOCHS, "step": step})
    RunLayout(folder).metrics.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines))


def make_runs(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    have = sum(1 for _ in root.iterdir())
    for i in range(have, count):
        write_run(root / f"run-{i:05d}", i)


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if values else 0.0


class TimerLateness:
    """A 16 ms timer on the GUI thread; lateness = how much later than asked each tick fired."""

    def __init__(self, interval_ms: int = 16):
        from PySide6.QtCore import QTimer

        self.interval, self.late, self._last = interval_ms / 1000, [], None
        self.cpu, self._last_cpu = [], None  # GUI-thread CPU between ticks: the window's own work
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            self.late.append(max(0.0, now - self._last - self.interval) * 1000)
            self.cpu.append((cpu - self._last_cpu) * 1000)
        self._last, self._last_cpu = now, cpu

    def start(self) -> None:
        self._last = None
        self.late, self.cpu = [], []
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.late


def wait_until(app, condition: Callable[[], bool], timeout_s: float = 600) -> None:
    end = time.perf_counter() + timeout_s
    while not condition():
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(0.0005)


def time_listing(app, root: Path, count: int, lateness: TimerLateness | None = None) -> tuple[float, float]:
    """(first scan s, second scan s) of `count` runs in a fresh Runs tab."""
    from gui.runs.tab import RunsTab

    tab = RunsTab(root)
    tab.resize(1200, 800)
    tab.show()
    app.processEvents()
    scans = []
    for _ in range(2):
        done = []
        tab.scanned.connect(done.append)
        if lateness is not None and not scans:
            lateness.start()
        start = time.perf_counter()
        tab.refresh()
        wait_until(app, lambda: bool(done) and tab.model.rowCount() == count)
        scans.append(time.perf_counter() - start)
        tab.scanned.disconnect(done.append)
        if lateness is not None and len(scans) == 1:
            lateness.stop()
    tab.shutdown()
    tab.deleteLater()
    app.processEvents()
    return scans[0], scans[1]


def section_listing(results: dict, work: Path, app, quick: bool) -> None:
    root = work / "runs"
    make_runs(root, 1000)
    lateness = TimerLateness()
    results["list_1000_runs_s"], results["rescan_1000_runs_s"] = time_listing(app, root, 1000, lateness)
    results["scan_ui_p99_ms"] = p99(lateness.late)
    results["scan_ui_max_ms"] = max(lateness.late, default=0.0)
    results["scan_ui_cpu_max_ms"] = max(lateness.cpu, default=0.0)  # the GUI thread's own work per tick
    if not quick:
        make_runs(root, 10_000)
        results["list_10000_runs_s"], results["rescan_10000_runs_s"] = time_listing(app, root, 10_000)


def synthetic_curves(path: str, steps: int, seed: int, spike_at: int | None = None):
    from gui.runs.curves import RunCurves

    rng = np.random.default_rng(seed)
    curves = RunCurves(path)
    x = np.arange(1, steps + 1, dtype=np.float64)
    y = 2.0 / np.sqrt(x) + 0.05 * rng.standard_normal(steps)
    if spike_at is not None:
        y[spike_at] = 50.0
    curves.loss.extend(x, y)
    curves.lr.extend(x[::100], np.full(x[::100].size, 1e-3))
    epochs = np.arange(1, 11, dtype=np.float64)
    curves.val_acc.extend(epochs, 0.5 + 0.04 * epochs)
    curves.val_loss.extend(epochs, 1.0 / epochs)
    curves.epoch_step.extend(epochs, epochs * steps / 10)
    curves.records = steps
    return curves


def time_redraws(app, runs: list, repeats: int = 60) -> tuple[list[float], list[float], object]:
    """Pan the loss plot a little and let Qt repaint, `repeats` times: the wall milliseconds of each, and the
    GUI thread's CPU milliseconds (what the wall time would be on an idle machine: on a shared, loaded one
    the wall time also counts the waits for a core)."""
    from gui.runs.overlay import RunsOverlay

    overlay = RunsOverlay()
    overlay.resize(1400, 900)
    overlay.show()
    overlay.set_runs(runs)
    app.processEvents()
    plot = overlay.loss_plot
    steps = max(len(c.loss) for _, _, c in runs)
    times, cpu = [], []
    for i in range(repeats):
        shift = (i % 10) * steps * 0.001
        start, start_cpu = time.perf_counter(), time.thread_time()
        plot.setXRange(shift, steps + shift, padding=0)
        app.processEvents()  # Qt repaints what the pan made dirty (the loss plot), as in the app
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return times[5:], cpu[5:], overlay  # the first few build caches


def section_plots(results: dict, work: Path, app, quick: bool) -> None:
    steps = 20_000 if quick else 100_000
    runs = [(f"run{i}", f"run {i}", synthetic_curves(str(work / f"r{i}"), steps, i)) for i in range(10)]
    times, cpu, overlay = time_redraws(app, runs)
    results["overlay_redraw_p99_ms"] = p99(times)
    results["overlay_redraw_cpu_p99_ms"] = p99(cpu)
    overlay.close()
    spike = 654_321 if not quick else 65_432
    big = synthetic_curves(str(work / "big"), 1_000_000 if not quick else 100_000, 99, spike_at=spike)
    times, cpu, overlay = time_redraws(app, [("big", "big", big)])
    results["million_redraw_p99_ms"] = p99(times)
    results["million_redraw_cpu_p99_ms"] = p99(cpu)
    overlay.loss_plot.setXRange(0, len(big.loss), padding=0)
    app.processEvents()
    items = overlay._runs["big"][1]
    shown_x, shown_y = items.raw.getData()  # what is drawn after downsampling
    results["million_drawn_points"] = int(len(shown_y))
    results["million_spike_kept"] = bool(np.nanmax(shown_y) == 50.0)
    overlay.close()


SECTIONS: list[Callable[[dict, Path, object, bool], None]] = [section_listing, section_plots, section_follow,
                                                                  section_watched]


def main(argv: list[str]) -> dict:
    from gui.app import make_application

    quick = "--quick" in argv
    app = make_application()
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="layerscope-bench-runs-"))
    try:
        for section in SECTIONS:
            section(results, work, app, quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'measure':<28}{'value':>12}")
    for key, value in results.items():
        print(f"{key:<28}{value:>12.3f}" if isinstance(value, float) else f"{key:<28}{value!s:>12}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()}))
    return results


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(0)  # skip tearing down Qt objects in interpreter-shutdown order (it can abort after the results)
