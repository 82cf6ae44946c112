"""What the dossier costs: top-K hooks on the validation pass, the on-demand pass, layer-health sampling.

- topk_overhead: the trainer's validation pass (core.training.strategy.Strategy.evaluate) with the top-K hooks attached vs
  without; (with - without) / without. Target <= 0.15.
- ondemand_ratio: bare inference pass / on-demand top-K pass over --images images (images/s of the top-K
  pass over images/s of plain inference; receptive-field measurement included). Target >= 0.8.
- health_overhead: training throughput lost with layer health sampled every 50 steps; 1 - with / without.
  Target <= 0.03.
- grid_first_ms: ms until the first 16 channel tiles of a 512-channel layer are cut (what the Channels view
  shows first; the rest follow). Target <= 150 (the issue's "first crops on screen", less the paint).
- grid_paint_ms: ms from asking the Dossier Channels view (gui/dossier/channels.py) to show a
  512-channel layer until its first tiles are painted (the grid pane rendered with them; offscreen Qt
  platform by default), median of 5. Target <= 150.
Model: the default small CNN (4 blocks, 16 channels) on in-memory shapes at 64 px. Each number is the
median of --repeat runs.

    .venv/bin/python benchmarks/dossier.py [--device auto] [--images 2000] [--steps 300] [--repeat 3]

The last line is JSON: {"topk_overhead": ..., "ondemand_ratio": ..., "health_overhead": ..., "grid_first_ms": ...,
"grid_paint_ms": ...}.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.data import DataSpec, build_data, make_loader  # noqa: E402
from core.dossier.health import LayerHealth  # noqa: E402
from core.dossier.topk import TopKTracker, compute_topk  # noqa: E402
from core.models import ModelSpec, build_model  # noqa: E402
from core.training.strategy import Strategy  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.runtime import resolve_device  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device) -> float:
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def topk_overhead(model, val, device, repeat: int) -> tuple[float, float, float]:
    def plain():
        Strategy(device).evaluate(model, val, 256)

    def hooked():
        tracker = TopKTracker(9, 5, all_labels=torch.as_tensor(val.labels).to(device)).attach(model)
        Strategy(device).evaluate(model, val, 256)
        tracker.detach()
        tracker.result()  # the one host copy at the end belongs to the cost
    plain(), hooked()  # warm-up
    times_a, times_b = [], []
    for _ in range(repeat):  # interleaved, so a change in machine load hits both
        times_a.append(_timed(plain, device))
        times_b.append(_timed(hooked, device))
    a, b = statistics.median(times_a), statistics.median(times_b)
    return a, b, (b - a) / a


def ondemand_ratio(model, data, device, repeat: int) -> tuple[float, float, float]:
    def bare():
        model.eval()
        with torch.inference_mode():
            for x, _ in make_loader(data, 256, shuffle=False, pin_memory=device.type == "cuda"):
                model(x.to(device, non_blocking=True))

    def topk():
        compute_topk(model, data, k=9, classes=["a"] * 5, batch_size=256, device=device, input_shape=(3, 64, 64))
    bare(), topk()
    times_a, times_b = [], []
    for _ in range(repeat):
        times_a.append(_timed(bare, device))
        times_b.append(_timed(topk, device))
    a, b = statistics.median(times_a), statistics.median(times_b)
    return a, b, a / b


def health_overhead(spec, steps: int, device_name: str, repeat: int) -> tuple[float, float, float]:
    data = build_data(DataSpec(train_count=steps * 32, val_count=8, seed=1, image_size=64))

    def run(with_health: bool) -> float:
        torch.manual_seed(0)
        cbs = [LayerHealth(tempfile.mkdtemp(), every=50)] if with_health else []
        trainer = Trainer(build_model(spec), data, TrainConfig(epochs=1, batch_size=32, device=device_name), spec, cbs)
        trainer.fit()
        return trainer.history[-1].images_per_sec
    run(False)
    plain, health = [], []
    for _ in range(repeat):  # interleaved, so a change in machine load hits both
        plain.append(run(False))
        health.append(run(True))
    a, b = statistics.median(plain), statistics.median(health)
    return a, b, 1 - b / a


def grid_first_tiles_ms(data, channels: int = 512, first: int = 16) -> tuple[float, float]:
    """(ms until the first `first` tiles of a 512-channel layer are cut, ms for the whole grid): the
    Channels view shows the grid after the first tiles (gui/dossier/channels.py)."""
    from core.dossier.render import display_image, layer_grid

    layer = _synthetic_layer(len(data), channels)
    marks = {}
    t = time.perf_counter()

    def on_tile(c, grid):
        if c + 1 == first:
            marks["first"] = time.perf_counter() - t
    layer_grid(layer, lambda i: display_image(data, i), on_tile=on_tile)
    return marks["first"] * 1000, (time.perf_counter() - t) * 1000


def _synthetic_layer(n: int, channels: int):
    """A 512-channel conv layer's top-9 table over `n` images (random, seeded): what the grid cuts."""
    import numpy as np

    from core.dossier.receptive import ReceptiveField
    from core.dossier.topk import LayerTopK

    rng = np.random.default_rng(0)
    return LayerTopK("late", "conv", rng.random((channels, 9)).astype(np.float32),
                     rng.integers(0, n, (channels, 9)), rng.integers(0, 8, (channels, 9, 2)).astype(np.int32),
                     (8, 8), None, ReceptiveField(40, 40, 8.0, 8.0, 4.0, 4.0))


def grid_paint_ms(data, channels: int = 512, repeat: int = 5) -> float:
    """Median ms from ChannelsView.show_layer (a 512-channel layer) until the first tiles are on screen: the
    view shows them (layerShown) and the grid pane then paints (grab() renders it as a repaint would)."""
    import os
    from types import SimpleNamespace

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from core.dossier.render import display_image
    from gui.dossier.channels import ChannelsView

    app = QApplication.instance() or QApplication([])
    layer = _synthetic_layer(len(data), channels)
    dossier = SimpleNamespace(result=SimpleNamespace(layers={"late": layer}, k=9, images=len(data)),
                              image_of=lambda i: display_image(data, i))
    times = []
    for _ in range(repeat):
        view = ChannelsView()
        view.resize(900, 600)
        view.show()
        app.processEvents()
        view.dossier = dossier
        shown = []
        view.layerShown.connect(shown.append)
        t = time.perf_counter()
        view.show_layer("late")
        while not shown:
            app.processEvents()
        view.grid.grab()  # paints the pane with the tiles just set
        times.append((time.perf_counter() - t) * 1000)
        if view.grid.base.image is None:
            raise RuntimeError("the Channels view showed no tiles")
        view.shutdown()
        view.deleteLater()
        app.processEvents()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    device = resolve_device(args.device)
    bundle = build_data(DataSpec(train_count=args.images, val_count=max(8, args.images // 4), seed=1, image_size=64))
    spec = ModelSpec("cnn", 5, 3, 64)
    model = build_model(spec).to(device)
    rows = []
    a, b, overhead = topk_overhead(model, bundle.val, device, args.repeat)
    rows.append(("topk_overhead", f"validation {len(bundle.val)} images: {a:.3f}s plain, {b:.3f}s with top-K", overhead, "<= 0.15"))
    a, b, ratio = ondemand_ratio(model, bundle.train, device, args.repeat)
    rows.append(("ondemand_ratio", f"{len(bundle.train)} images: {a:.3f}s bare inference, {b:.3f}s top-K pass", ratio, ">= 0.8"))
    a, b, hoverhead = health_overhead(spec, args.steps, str(device), args.repeat)
    rows.append(("health_overhead", f"{args.steps} steps: {a:,.0f} img/s plain, {b:,.0f} img/s with health/50", hoverhead, "<= 0.03"))
    first_ms, all_ms = grid_first_tiles_ms(bundle.train)
    rows.append(("grid_first_ms", f"512-channel layer: first 16 tiles {first_ms:.0f} ms, all {all_ms:.0f} ms", first_ms, "<= 150"))
    paint_ms = grid_paint_ms(bundle.train)
    rows.append(("grid_paint_ms", "512-channel layer: Channels view asked -> first tiles painted, median of 5",
                 paint_ms, "<= 150"))
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'measure':<16} {'value':>8}  {'target':<8} detail")
    for name, detail, value, target in rows:
        print(f"{name:<16} {value:8.3f}  {target:<8} {detail}")
    print(json.dumps({"topk_overhead": round(overhead, 4), "ondemand_ratio": round(ratio, 4),
                      "health_overhead": round(hoverhead, 4), "grid_first_ms": round(first_ms, 1),
                      "grid_paint_ms": round(paint_ms, 1),
                      "device": str(device)}))


if __name__ == "__main__":
    main()
