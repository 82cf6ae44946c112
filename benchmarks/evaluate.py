"""Evaluation speed: core.evaluate (inference + every metric + the six files) against a bare inference loop
(DataLoader -> model -> softmax, nothing else) over the same images, same model, same batch size.

    .venv/bin/python benchmarks/evaluate.py [--images 10000] [--model cnn] [--device cpu] [--repeats 3]

Prints a table, then as the LAST line a JSON object with evaluate_s, bare_s and evaluate_ratio
(= bare speed / evaluate speed, i.e. bare_s / evaluate_s; target >= 0.9).
"""
from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and its inspect.py would shadow the standard library's.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from core.data import DataSpec, build_data, make_loader
    from core.evaluate import EvalData, evaluate_model, save_evaluation
    from core.models import ModelSpec, build_model

    data = build_data(DataSpec(name="shapes", train_count=16, val_count=args.images, seed=0))
    spec = ModelSpec(args.model, data.num_classes, 3, data.preprocess.image_size, {})
    model = build_model(spec, load_weights=False).to(args.device).eval()
    device = torch.device(args.device)
    labels = data.val.labels.tolist()
    eval_data = EvalData(data.val, [f"shapes:val/{i:05d}" for i in range(len(labels))], labels, "shapes (val)")

    def bare():
        with torch.inference_mode():
            for inputs, _ in make_loader(data.val, args.batch_size, shuffle=False):
                torch.softmax(model(inputs.to(device)).float(), dim=1)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def app(out):
        result = evaluate_model(model, data.classes, eval_data, batch_size=args.batch_size, device=device)
        save_evaluation(result, out)

    bare()  # warm-up
    bare_times, app_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # interleaved, so load from other processes hits both alike
            t = time.perf_counter()
            bare()
            bare_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            app(os.path.join(tmp, f"ev{r}"))
            app_times.append(time.perf_counter() - t)
    bare_s, app_s = min(bare_times), min(app_times)
    ratio = bare_s / app_s
    print(f"{'':28}{'seconds':>10}{'images/s':>12}")
    print(f"{'bare inference loop':28}{bare_s:>10.3f}{args.images / bare_s:>12,.0f}")
    print(f"{'layerscope evaluate':28}{app_s:>10.3f}{args.images / app_s:>12,.0f}")
    print(f"evaluate_ratio {ratio:.3f} (target >= 0.9); {args.images} shapes images, model {args.model}, "
          f"device {args.device}, best of {args.repeats}")
    print(json.dumps({"images": args.images, "model": args.model, "device": args.device, "bare_s": round(bare_s, 4),
                      "evaluate_s": round(app_s, 4), "evaluate_ratio": round(ratio, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
