"""Does the GUI slow training down? Same model (cnn) and data (shapes) in one process:

  (a) a bare PyTorch loop (train + validation each epoch, like the engine) on a plain thread, as the app
      trains on a thread; the same loop on the main thread is measured last, for reference;
  (b) the app: the main window shown (offscreen is fine), Train pressed, the worker thread training while the
      event loop, the live plots and the log run; a 10 ms QTimer on the GUI thread measures UI latency.

(a) and (b) alternate `--repeats` times. Prints a table and, as the last line, JSON with throughput_ratio
(b/a, the median over the (a, b) pairs) and ui_latency_p99_ms.
Targets on a 2-core CPU machine: throughput_ratio >= 0.95, ui_latency_p99_ms <= 16.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/training.py [--images 3000] [--epochs 2] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Run as a script, Python puts benchmarks/ first on sys.path, where a sibling (inspect.py) would shadow the
# standard library: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402


def bare_loop(args) -> float:
    """Images per second of a plain loop doing what the engine does: train an epoch (summing loss and hits on
    the device, read once an epoch), then validate."""
    import torch
    import torch.nn.functional as F

    from core.data import DataSpec, build_data, make_loader
    from core.models import ModelSpec, build_model

    data = build_data(DataSpec(name="shapes", train_count=args.images, val_count=args.images // 8, seed=0))
    torch.manual_seed(0)
    model = build_model(ModelSpec("cnn", data.num_classes, 3, data.preprocess.image_size))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        loss_sum, hits = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for x, y in make_loader(data.train, args.batch_size, shuffle=True, seed=0, epoch=epoch):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * y.shape[0]
            hits += (logits.detach().argmax(1) == y).sum()
        float(loss_sum), int(hits)
        model.eval()
        with torch.inference_mode():
            for x, y in make_loader(data.val, args.batch_size * 2, shuffle=False):
                F.cross_entropy(model(x), y, reduction="sum")
    return args.images * args.epochs / (time.perf_counter() - start)


def run_on_thread(fn, *args):
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(fn(*args)), name="bare-loop")
    thread.start()
    thread.join()
    return result[0]


def app_run(args, window, qtbot_app) -> tuple[float, list[float], int, float]:
    """Images per second through the app's worker thread, the lateness (ms) of every 10 ms tick, redraws,
    and the share of one core the GUI thread used."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    window.panel.set_values({"dataset": "shapes", "train_count": args.images, "model": "cnn", "epochs": args.epochs,
                             "batch_size": args.batch_size, "lr": "0.001", "optimizer": "adam", "schedule": "none",
                             "seed": 0, "device": "cpu"})
    ticks: list[float] = []
    marks: dict = {}
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()

    def fit_started(record):  # the run's "start" record; its time is wall-clock (time.time())
        marks["start"] = time.perf_counter() - (time.time() - record["time"])
        marks["tick0"] = len(ticks)

    def finished(summary):
        marks["end"] = time.perf_counter()
        marks["tick1"] = len(ticks)
        loop.quit()

    window.controller.fitStarted.connect(fit_started)
    window.controller.runFinished.connect(finished)
    window.controller.runFailed.connect(lambda m: (print("run failed:", m), loop.quit()))
    redraws = window.plots.redraw_count
    cpu0 = time.thread_time()
    timer.start()
    window.panel.train_button.click()
    loop.exec()
    timer.stop()
    gui_cpu = time.thread_time() - cpu0
    window.controller.fitStarted.disconnect(fit_started)
    window.controller.runFinished.disconnect(finished)
    while window.controller.is_active():  # let the thread wind down before the next measurement
        qtbot_app.processEvents()
        time.sleep(0.01)
    t = np.array(ticks[marks["tick0"]:marks["tick1"]])
    lateness = np.clip(np.diff(t) * 1000 - 10.0, 0, None).tolist() if len(t) > 1 else [0.0]
    wall = marks["end"] - marks["start"]
    ips = args.images * args.epochs / wall
    return ips, lateness, window.plots.redraw_count - redraws, gui_cpu / wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2, help="alternate (a) and (b) this many times; best of each")
    args = p.parse_args()

    from PySide6.QtCore import QSettings

    from gui.app import make_application
    from gui.window.main_window import MainWindow
    from gui.settings import AppSettings

    app = make_application()
    tmp = tempfile.TemporaryDirectory(prefix="layerscope-bench-")
    window = MainWindow(runs_root=Path(tmp.name) / "runs",
                        settings=AppSettings(QSettings(str(Path(tmp.name) / "s.ini"), QSettings.Format.IniFormat)))
    window.resize(1200, 780)
    window.show()
    window.load_engine(blocking=True)
    import torch

    from gui.training.worker import training_threads

    # The app trains on a worker thread, so the like-for-like baseline is the bare loop on a plain thread,
    # with the main thread kept free of torch work as in the app. Once the main thread has run torch ops,
    # its idle OpenMP workers compete with any other thread's (measured: ~15% slower on 2 cores), so the
    # bare loop on the main thread runs last, after every paired run; it is reported for reference.
    app_threads = training_threads()
    bare_threaded, gui, lateness, redraws, gui_cpu = [], [], [], 0, []
    for _ in range(args.repeats):
        bare_threaded.append(run_on_thread(bare_loop, args))
        ips, late, r, cpu = app_run(args, window, app)
        gui.append(ips)
        lateness += late
        redraws += r
        gui_cpu.append(cpu)
    bare = [bare_loop(args) for _ in range(args.repeats)]
    window.close()
    a, b = max(bare_threaded), max(gui)
    # The machine may be shared: pair each app run with the bare run just before it; take the median.
    pairs = [g / x for x, g in zip(bare_threaded, gui)]
    ratio = float(np.median(pairs))
    p99 = float(np.percentile(lateness, 99)) if lateness else 0.0
    print(f"cnn on shapes: {args.images} train images x {args.epochs} epochs, batch {args.batch_size}, "
          f"torch threads: default {torch.get_num_threads()}, app worker {app_threads or 'default'}; {os.cpu_count()} CPUs; "
          f"best of {args.repeats}")
    print(f"{'run':<34}{'images/s':>12}")
    print(f"{'(a) bare loop on a plain thread':<34}{a:>12.1f}   all: {', '.join(f'{v:.1f}' for v in bare_threaded)}")
    print(f"{'(b) app: worker thread + window':<34}{b:>12.1f}   all: {', '.join(f'{v:.1f}' for v in gui)}")
    print(f"{'ratio b/a, best of each':<34}{b / a:>12.3f}")
    print(f"{'ratio b/a, median of pairs':<34}{ratio:>12.3f}   pairs: {', '.join(f'{v:.3f}' for v in pairs)}")
    print(f"{'(reference) bare loop, main thread':<34}{max(bare):>12.1f}   all: {', '.join(f'{v:.1f}' for v in bare)}"
          f"   b / this: {b / max(bare):.3f}")
    print(f"UI timer (10 ms): {len(lateness)} ticks, lateness p50 {np.percentile(lateness, 50):.2f} ms, "
          f"p99 {p99:.2f} ms, max {max(lateness):.2f} ms; plot redraws {redraws}; "
          f"GUI thread CPU {np.mean(gui_cpu):.1%} of one core")
    print(json.dumps({"throughput_ratio": round(ratio, 4), "throughput_ratio_best_of": round(b / a, 4),
                      "throughput_ratio_vs_main_thread_loop": round(b / max(bare), 4), "ui_latency_p99_ms": round(p99, 2),
                      "bare_images_per_s": round(a, 1), "app_images_per_s": round(b, 1)}))


if __name__ == "__main__":
    main()
