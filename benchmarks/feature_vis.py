"""What feature visualization and concept tests cost on this machine (issue 22).

- vis_s_per_unit_cnn64: seconds per unit to optimise pictures of the default small CNN (4 blocks, 16 channels,
  batch norm) at 64 px, for --units channels of its second conv block (optimised --batch at a time, --steps
  steps each, Lucid's transforms on).
- first_layer_s_cnn64: seconds for the whole first layer of that CNN (16 channels; a first layer stops at
  min(--steps, 64) steps and takes no random transforms, see core/featurevis/optimize.py). The issue's
  target: well under a minute.
- vis_s_per_unit_resnet18_224: the same for resnet18 (weights=None) at 224 px, --resnet-units channels of
  layer2.0.conv1.
- cancel_ms_cnn64 / cancel_ms_resnet18_224: from asking to cancel (another thread, half-way through a step)
  to the optimisation raising Cancelled: at most about one step (one picture's step time is printed beside).
- tcav_s: one class, one layer (the CNN's third block, 64 channels x 16 x 16), the five drawn concepts
  (stripes, dots, checkerboard, solid, noise), --runs random runs each for the t-test, --class-images images.
Weights are untrained (seeded): the cost of an optimisation step does not depend on what the weights learnt.

    .venv/bin/python benchmarks/feature_vis.py [--steps 256] [--units 16] [--resnet-units 4] [--runs 16]

Quick check: --steps 8 --units 4 --resnet-units 2 --runs 3 --class-images 16. The last line is JSON.
"""
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.errors import Cancelled  # noqa: E402
from core.data import DataSpec, build_data  # noqa: E402
from core.data.transforms import Preprocess  # noqa: E402
from core.featurevis import concept_images, concept_sets  # noqa: E402
from core.featurevis.concepts import concept_tests  # noqa: E402
from core.featurevis.optimize import VisSettings, synthesize  # noqa: E402
from core.featurevis.visualize import resolve_target, visualize_model  # noqa: E402
from core.models import ModelSpec, build_model  # noqa: E402
from core.progress import Reporter  # noqa: E402

IMAGENET = Preprocess(224, 3, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _model(name: str, size: int):
    torch.manual_seed(0)
    return build_model(ModelSpec(name, 5, 3, size)).eval()


def vis_seconds(model, pre: Preprocess, layer: str, units: int, settings: VisSettings) -> float:
    target = resolve_target(model, pre, [str(i) for i in range(5)], layer, list(range(units)))
    start = time.perf_counter()
    visualize_model(model, pre, [], target, settings)
    return time.perf_counter() - start


def cancel_ms(model, pre: Preprocess, layer: str, seed: int = 0) -> tuple[float, float]:
    """(ms from a cancel request made on another thread, at a moment unrelated to the steps, to Cancelled;
    ms of one step). The request lands mid-step, so the wait is at most about one step."""
    times: list[float] = []
    asked = threading.Event()

    def progress(done, total, message):
        times.append(time.perf_counter())

    def ask_later():
        while len(times) < 3:  # a few steps first, to know how long one takes
            time.sleep(0.001)
        step = (times[-1] - times[0]) / (len(times) - 1)
        time.sleep(1.5 * step)  # half-way through a step
        asked_at.append(time.perf_counter())
        asked.set()

    asked_at: list[float] = []
    threading.Thread(target=ask_later, daemon=True).start()
    try:
        synthesize(model, pre, layer, [0], VisSettings(steps=100_000, batch_size=1, seed=seed),
                   Reporter(progress, asked.is_set))
    except Cancelled:
        return 1000 * (time.perf_counter() - asked_at[0]), 1000 * (times[2] - times[0]) / 2
    raise RuntimeError("the optimisation was not cancelled")


def tcav_seconds(runs: int, class_images: int, concept_count: int) -> tuple[float, int]:
    bundle = build_data(DataSpec(name="shapes", train_count=400, val_count=100, image_size=64, seed=1))
    model = _model("cnn", 64)
    sets = [concept_sets.concept_set(c, concept_count, bundle.preprocess) for c in concept_images.DEFAULT_CONCEPTS]
    start = time.perf_counter()
    [result] = concept_tests(model, bundle.preprocess, bundle.classes, bundle.train, [0], "features.10", sets,
                             random_runs=runs, concept_count=concept_count, class_count=class_images)
    return time.perf_counter() - start, sum(1 for s in result.scores if s.significant)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=VisSettings().steps)
    ap.add_argument("--units", type=int, default=16)
    ap.add_argument("--batch", type=int, default=VisSettings().batch_size)
    ap.add_argument("--resnet-units", type=int, default=4)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--class-images", type=int, default=100)
    ap.add_argument("--concept-images", type=int, default=50)
    args = ap.parse_args()
    settings = VisSettings(steps=args.steps, batch_size=args.batch)
    cnn, cnn_pre = _model("cnn", 64), Preprocess(64, 3, (0.5,) * 3, (0.25,) * 3)
    resnet = _model("resnet18", 224)
    rows = []
    cnn_s = vis_seconds(cnn, cnn_pre, "features.4", args.units, settings)
    rows.append(("vis_s_per_unit_cnn64", cnn_s / args.units, f"{args.units} channels of features.4, {args.steps} steps"))
    first_s = vis_seconds(cnn, cnn_pre, "features.0", 16, settings)
    rows.append(("first_layer_s_cnn64", first_s, f"all 16 channels of features.0, {min(args.steps, settings.first_layer_steps)} steps (target < 60)"))
    res_s = vis_seconds(resnet, IMAGENET, "layer2.0.conv1", args.resnet_units,
                        VisSettings(steps=args.steps, batch_size=min(args.batch, args.resnet_units)))
    rows.append(("vis_s_per_unit_resnet18_224", res_s / args.resnet_units,
                 f"{args.resnet_units} channels of layer2.0.conv1, {args.steps} steps"))
    for name, model, pre, layer in (("cnn64", cnn, cnn_pre, "features.4"),
                                    ("resnet18_224", resnet, IMAGENET, "layer2.0.conv1")):
        waited, step = cancel_ms(model, pre, layer)
        rows.append((f"cancel_ms_{name}", waited, f"cancel asked mid-step -> Cancelled (one step: {step:.0f} ms)"))
    tcav_s, significant = tcav_seconds(args.runs, args.class_images, args.concept_images)
    rows.append(("tcav_s", tcav_s, f"1 class, features.10, 5 concepts x {args.runs} runs, {args.class_images} class "
                                   f"images ({significant} significant on untrained weights)"))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CPU")
    print(f"{'measure':<28} {'value':>9}  detail")
    for name, value, detail in rows:
        print(f"{name:<28} {value:9.3f}  {detail}")
    print(json.dumps({name: round(value, 4) for name, value, _ in rows}
                     | {"steps": args.steps, "runs": args.runs, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
