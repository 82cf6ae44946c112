"""Does the app slow training down? What a user would compare, each in a fresh process of its own:

  (a) app:  the main window (offscreen), Train pressed, the run to its end. The window starts the run in a
            process of its own (`layerscope train`) and follows it through its run folder: live plots,
            progress, log, the model hub loading each epoch's weights. Throughput is the run's own: images
            trained over the time between its "start" and "end" records (train + validation each epoch, plus
            the engine's per-epoch last.pt / best.pt saves).
  (b) bare: a plain PyTorch script of the same loop on its main thread: the same data, model and optimizer
            (read from the app run's config.json), train + validation each epoch, loss and hits summed on
            the device and read once an epoch.

(a) and (b) alternate `--repeats` times (the order flips each pair, so a drifting machine favours neither);
throughput_ratio is the median of a/b over the pairs. While (a) trains, a 10 ms QTimer on the GUI thread
measures how late the window answers (ui_latency_p99_ms). Then one more app run measures drop_to_answer_ms: an
image dropped on the window through the real drop path early in the first epoch (no model in the hub yet, so
the run is asked for a snapshot of its live weights) until the Inspect tab shows its prediction.

The old figure (the app's in-process worker thread against a bare loop on a thread of the same process) is gone
with the in-process path: every run now trains in its own process.

Prints a table, then a last line of JSON. Targets (a quiet 2-core machine): throughput_ratio >= 0.97,
ui_latency_p99_ms <= 16, drop_to_answer_ms < 1000.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/training.py [--images 3000] [--epochs 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Run as a script, Python puts benchmarks/ first on sys.path, where a sibling (inspect.py) would shadow the
# standard library: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.runs.layout import RunLayout  # noqa: E402

TICK_MS = 10


# ---- (b) the plain script ------------------------------------------------------------------------------
def bare_loop(args) -> dict:
    """Images per second of a plain loop doing what the engine does, on the app run's data and model."""
    import torch
    import torch.nn.functional as F

    from core.data import DataSpec, build_data, make_loader
    from core.models import ModelSpec, build_model

    config = json.loads(Path(args.config).read_text())
    data = build_data(DataSpec.from_dict(config["data"]))
    torch.manual_seed(0)
    model = build_model(ModelSpec.from_dict(config["model_spec"]))
    train = config["train"]
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    batch = train["batch_size"]
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        loss_sum, hits = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for x, y in make_loader(data.train, batch, shuffle=True, seed=0, epoch=epoch):
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
            for x, y in make_loader(data.val, batch * 2, shuffle=False):
                F.cross_entropy(model(x), y, reduction="sum")
    seconds = time.perf_counter() - start
    return {"images_per_s": len(data.train) * args.epochs / seconds, "seconds": seconds}


# ---- (a) the app ---------------------------------------------------------------------------------------
def open_window(tmp: Path, args, epochs: int):
    from PySide6.QtCore import QSettings

    from gui.app import make_application
    from gui.settings import AppSettings
    from gui.window.main_window import MainWindow

    app = make_application()
    window = MainWindow(runs_root=tmp / "runs", settings=AppSettings(QSettings(str(tmp / "s.ini"),
                                                                               QSettings.Format.IniFormat)))
    window.resize(1200, 780)
    window.show()
    window.load_engine(blocking=True)
    window.run_settings.update({"dataset": "shapes", "train_count": args.images, "model": "cnn", "epochs": epochs,
                                "batch_size": args.batch_size, "lr": "0.001", "optimizer": "adam",
                                "weight_decay": "0", "schedule": "none", "seed": 0, "device": "cpu"})
    return app, window


def run_records(run: Path) -> list[dict]:
    return [json.loads(line) for line in RunLayout(run).metrics.read_text().splitlines()]


def app_run(args) -> dict:
    """The run's own throughput, the lateness (ms) of every 10 ms tick while it trained, redraws, and the CPU
    the window's process used meanwhile."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    tmp = Path(tempfile.mkdtemp(prefix="layerscope-bench-app-"))
    app, window = open_window(tmp, args, args.epochs)
    ticks: list[float] = []
    marks: dict = {}
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()

    def arrived(records):  # the window sees the run start and end: lateness counts in between
        for record in records:
            if record.get("kind") == "start" and "tick0" not in marks:
                marks.update(tick0=len(ticks), cpu0=time.thread_time(), proc0=time.process_time(),
                             wall0=time.perf_counter(), redraws0=window.plots.redraw_count)
            elif record.get("kind") == "end":
                marks.update(tick1=len(ticks), cpu1=time.thread_time(), proc1=time.process_time(),
                             wall1=time.perf_counter(), redraws1=window.plots.redraw_count)

    window.controller.recordsArrived.connect(arrived)
    window.controller.runFinished.connect(lambda _summary: loop.quit())
    window.controller.runFailed.connect(lambda message: (marks.update(failed=message), loop.quit()))
    timer.start()
    pressed = time.perf_counter()
    window.panel.train_button.click()
    loop.exec()
    timer.stop()
    finished = time.perf_counter()
    if "failed" in marks:
        raise SystemExit(f"the app's run failed: {marks['failed']}")
    run = window.controller.run_dir
    written = run_records(run)
    start = next(r for r in written if r["kind"] == "start")
    end = next(r for r in written if r["kind"] == "end")
    window.close()
    t = np.array(ticks[marks["tick0"]:marks["tick1"]])
    lateness = np.clip(np.diff(t) * 1000 - TICK_MS, 0, None).tolist() if len(t) > 1 else [0.0]
    wall = marks["wall1"] - marks["wall0"]
    return {"images_per_s": start["train_size"] * args.epochs / (end["time"] - start["time"]),
            "seconds": end["time"] - start["time"], "press_to_done_s": finished - pressed,
            "lateness_ms": lateness, "redraws": marks["redraws1"] - marks["redraws0"],
            "gui_thread_cpu": (marks["cpu1"] - marks["cpu0"]) / wall,
            "gui_process_cpu": (marks["proc1"] - marks["proc0"]) / wall, "config": str(RunLayout(run).config)}


def drop_run(args) -> dict:
    """Milliseconds from an image dropped on the window (early in the first epoch) to its prediction shown."""
    from PIL import Image
    from PySide6.QtCore import QEventLoop, QMimeData, QPointF, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix="layerscope-bench-drop-"))
    app, window = open_window(tmp, args, 50)
    image = tmp / "dropped.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(image)
    loop = QEventLoop()
    marks: dict = {}

    def drop():
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(image))])
        centre = QPointF(window.rect().center())
        marks.update(dropped=time.perf_counter(), hub_had_model=window.hub.current() is not None)
        for kind in (QDragEnterEvent, QDropEvent):
            QApplication.sendEvent(window, kind(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                                Qt.KeyboardModifier.NoModifier))

    def arrived(records):
        if "dropped" not in marks and any(r.get("kind") == "step" for r in records):
            QTimer.singleShot(200, drop)  # a few steps in: the run is well under way

    def shown(detail):
        if "dropped" in marks and detail.label == image.name and "answered" not in marks:
            marks.update(answered=time.perf_counter(), source=detail.model_source)
            window.controller.stop()

    window.controller.recordsArrived.connect(arrived)
    window.inspector.detailShown.connect(shown)
    window.controller.runFinished.connect(lambda _summary: loop.quit())
    window.controller.runFailed.connect(lambda message: (marks.update(failed=message), loop.quit()))
    window.panel.train_button.click()
    loop.exec()
    window.close()
    if "answered" not in marks:
        raise SystemExit(f"the dropped image was not answered ({marks.get('failed', 'the run ended first')})")
    return {"drop_to_answer_ms": (marks["answered"] - marks["dropped"]) * 1000, "source": marks["source"],
            "hub_had_model": marks["hub_had_model"]}


# ---- the driver ----------------------------------------------------------------------------------------
def child(mode: str, args, config: str | None = None) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), f"--{mode}", "--images", str(args.images),
            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    if config:
        argv += ["--config", config]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=3000, help="shapes training images (cnn, default image size)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5, help="(app, bare) pairs, alternated")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    mode.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    mode.add_argument("--drop", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.app or args.bare or args.drop:  # one measurement, in this fresh process
        print(json.dumps((app_run if args.app else bare_loop if args.bare else drop_run)(args)))
        return

    apps, bares, config = [], [], None
    for i in range(args.repeats):
        order = ("app", "bare") if i % 2 == 0 else ("bare", "app")  # the first app run makes the config
        for which in order:
            if which == "app":
                apps.append(child("app", args))
                config = config or apps[-1]["config"]
            else:
                bares.append(child("bare", args, config))
        print(f"pair {i + 1}: app {apps[-1]['images_per_s']:.1f}, bare {bares[-1]['images_per_s']:.1f} images/s",
              file=sys.stderr, flush=True)
    dropped = child("drop", args)

    pairs = [a["images_per_s"] / b["images_per_s"] for a, b in zip(apps, bares)]
    ratio = float(np.median(pairs))
    lateness = [v for a in apps for v in a["lateness_ms"]]
    p50, p99 = (float(np.percentile(lateness, q)) for q in (50, 99))
    show = lambda runs: ", ".join(f"{r['images_per_s']:.1f}" for r in runs)  # noqa: E731
    print(f"cnn on shapes: {args.images} train images x {args.epochs} epochs, batch {args.batch_size}; "
          f"{os.cpu_count()} CPUs; {args.repeats} pairs, each run a fresh process")
    print(f"{'run':<42}{'images/s':>12}")
    print(f"{'(a) app: window + run in its own process':<42}{np.median([a['images_per_s'] for a in apps]):>12.1f}"
          f"   all: {show(apps)}")
    print(f"{'(b) plain PyTorch script, main thread':<42}{np.median([b['images_per_s'] for b in bares]):>12.1f}"
          f"   all: {show(bares)}")
    print(f"{'ratio a/b, median of pairs':<42}{ratio:>12.3f}   pairs: {', '.join(f'{v:.3f}' for v in pairs)}")
    print(f"UI timer ({TICK_MS} ms) while training: {len(lateness)} ticks, lateness p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"max {max(lateness):.2f} ms; plot redraws {np.mean([a['redraws'] for a in apps]):.0f} a run; window "
          f"process CPU {np.mean([a['gui_process_cpu'] for a in apps]):.1%} of a core (GUI thread "
          f"{np.mean([a['gui_thread_cpu'] for a in apps]):.1%})")
    print(f"Train pressed to run done (incl. the run process's start): "
          f"{np.median([a['press_to_done_s'] for a in apps]):.1f} s, of which training "
          f"{np.median([a['seconds'] for a in apps]):.1f} s")
    print(f"Image dropped mid-training to its prediction shown: {dropped['drop_to_answer_ms']:.0f} ms "
          f"(model: {dropped['source']})")
    print(json.dumps({"throughput_ratio": round(ratio, 4), "ui_latency_p99_ms": round(p99, 2),
                      "drop_to_answer_ms": round(dropped["drop_to_answer_ms"], 1),
                      "app_images_per_s": round(float(np.median([a["images_per_s"] for a in apps])), 1),
                      "bare_images_per_s": round(float(np.median([b["images_per_s"] for b in bares])), 1),
                      "pairs": [round(v, 4) for v in pairs]}))


if __name__ == "__main__":
    main()
