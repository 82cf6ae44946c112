"""Headless commands: `layerscope train|predict|inspect|dataset ...`. Thin over core; never imports Qt.

Exit status: 0 success, 1 some input failed (e.g. one image of several) or the run failed (out of memory,
disk full: the message says what to change), 2 bad usage or unusable input, 3 training diverged,
130 / 143 stopped by SIGINT (Ctrl+C) / SIGTERM (the run's last.pt is saved and can be resumed).
Failures are translated once, in main(): a message on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_FAILED = 1
DEBUG_ENV = "LAYERSCOPE_DEBUG"  # set to 1 to get the traceback of an unexpected error
COMMANDS = ("train", "predict", "inspect", "dataset")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"layerscope: --option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key.strip().replace("-", "_")] = _parse_value(value)
    return options


def _parse_augment(text: str | None) -> dict:
    """'flip,crop=0.6,rotate=15,jitter=0.2' -> Augmentation fields."""
    names = {"flip": ("horizontal_flip", True), "crop": ("random_resized_crop", True),
             "rotate": ("rotation_degrees", 15.0), "jitter": ("colour_jitter", 0.2)}
    aug: dict = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        if key not in names:
            raise SystemExit(f"layerscope: unknown augmentation {key!r}; use flip, crop[=MIN_SCALE], rotate[=DEG], jitter[=AMOUNT]")
        field, default = names[key]
        aug[field] = default
        if value and key == "crop":
            aug["crop_scale_min"] = float(value)
        elif value:
            aug[field] = float(value)
    return aug


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerscope", description=(
        "Train image classifiers and look inside them. With no command, opens the desktop app."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model headless, with a progress bar")
    t.add_argument("--dataset", default="shapes", help="shapes (built in), mnist, fashion_mnist, cifar10, or a folder with one sub-folder per class")
    t.add_argument("--model", default="cnn", help="mlp, cnn, resnet18, resnet50, mobilenet_v3_small, efficientnet_b0")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adam")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--schedule", choices=("none", "cosine", "step"), default="cosine")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    t.add_argument("--image-size", type=int, default=None, help="input size in pixels (default: the dataset's own)")
    t.add_argument("--shapes-count", type=int, default=8000, help="shapes: how many training images to draw (validation gets an eighth as many)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="validation share when a folder has no val/ sub-folder")
    t.add_argument("--augment", default="", help="comma list: flip, crop[=MIN_SCALE], rotate[=DEG], jitter[=AMOUNT]")
    t.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    t.add_argument("--hidden", default=None, help="mlp hidden layer widths, e.g. 256,128")
    t.add_argument("--pretrained", action="store_true", help="torchvision models: start from pretrained weights (downloads once)")
    t.add_argument("--weights", default=None, help="torchvision models: a local weights file to start from")
    t.add_argument("--freeze-backbone", action="store_true", help="train only the new classification head")
    t.add_argument("--backbone-lr-scale", type=float, default=1.0, help="fine-tuning: backbone lr = lr x this")
    t.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other model option (repeatable)")
    t.add_argument("--out", default=None, help="run directory (config.json, metrics.jsonl, last.pt, best.pt)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue a run from its last.pt; --epochs is the new total")
    t.add_argument("--overwrite", action="store_true", help="start a new run in an --out folder that holds one (the old files move to previous-<time>/)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("predict", help="classify images with a checkpoint", description=(
        "Classify images, one output line per image, written (and flushed) as each image is done: a file "
        "that cannot be read costs its own line only."))
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true", help=(
        'JSON Lines on stdout: one object per image, {"path": ..., "predictions": [{"label": ..., "prob": ...}]} '
        'or {"path": ..., "error": ...}; a prob that is not a number is null'))
    p.add_argument("images", nargs="+", metavar="IMAGE")

    i = sub.add_parser("inspect", help="write per-layer mosaics, filters, saliency and summary.json for an image")
    i.add_argument("--checkpoint", required=True)
    i.add_argument("--out", required=True)
    i.add_argument("--target", default=None, help="class name or index for saliency (default: the predicted class)")
    i.add_argument("--layer", default=None, help="Grad-CAM layer (default: the last conv layer)")
    i.add_argument("image", metavar="IMAGE")

    d = sub.add_parser("dataset", help="check an image folder: classes, splits, bad files, duplicates")
    d.add_argument("folder")
    d.add_argument("--json", action="store_true")
    return parser


# ---- train ---------------------------------------------------------------------------------------------
def _model_options(args) -> dict:
    options = _parse_options(args.option)
    if args.hidden:
        options["hidden"] = [int(v) for v in args.hidden.split(",") if v.strip()]
    if args.pretrained:
        options["pretrained"] = True
    if args.weights:
        options["weights_path"] = str(Path(args.weights).expanduser().resolve())
    if args.freeze_backbone:
        options["freeze_backbone"] = True
    return options


def _default_run_dir(args) -> Path:
    name = Path(args.dataset).name if args.dataset not in ("shapes", "mnist", "fashion_mnist", "cifar10") else args.dataset
    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.model}-{name}"


class _ConsoleProgress:
    """A tqdm bar over all steps, with epoch lines above it."""

    def __init__(self, quiet: bool):
        from core.callbacks import Callback

        self.quiet = quiet
        self.bar = None
        parent = self

        class _Cb(Callback):
            def on_fit_start(self, trainer, info):
                parent.start(info)

            def on_batch_end(self, trainer, report):
                parent.batch(report)

            def on_epoch_end(self, trainer, m):
                parent.write(f"epoch {m.epoch:>3}: train loss {m.train_loss:.4f}  acc {m.train_acc:.3f} | "
                             f"val loss {m.val_loss:.4f}  acc {m.val_acc:.3f} | lr {m.lr:.2e} | "
                             f"{m.images_per_sec:,.0f} img/s | {m.duration_s:.1f}s")

            def on_fit_end(self, trainer, summary):
                parent.close()

            def on_stopped(self, trainer, summary):
                parent.close()

            def on_error(self, trainer, error):
                parent.close()

        self.callback = _Cb()

    def start(self, info: dict) -> None:
        self.write(f"training on {info['device']}: {info['train_size']} train / {info['val_size']} val images, "
                   f"{len(info['classes'])} classes, epochs {info['start_epoch'] + 1}..{info['epochs']}")
        if not self.quiet:
            from tqdm import tqdm

            done = info["start_epoch"] * info["batches_per_epoch"]
            # disable=None: no bar when stderr is not a terminal (CI logs, pipes).
            self.bar = tqdm(total=info["total_steps"], initial=done, unit="step", dynamic_ncols=True,
                            file=sys.stderr, disable=None, mininterval=0.25)

    def batch(self, report) -> None:
        if self.bar is not None:
            self.bar.update(report.step - self.bar.n)
            loss = report.losses[-1][1] if report.losses else float("nan")
            self.bar.set_postfix_str(f"epoch {report.epoch}/{report.epochs} loss {loss:.4f} {report.images_per_sec:,.0f} img/s")

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_folder_health(folder: str) -> None:
    try:
        from core.data.health import scan_health
    except ImportError:
        return
    report = scan_health(Path(folder))
    print(report.format_text(), flush=True)


def cmd_train(args) -> int:
    from core.checkpoint import CheckpointError
    from core.data import DatasetError, DataSpec
    from core.data.transforms import Augmentation
    from core.interrupts import SignalStop
    from core.models import ModelError
    from core.run_lock import RunFolderError
    from core.session import RunSettings, prepare_trainer
    from core.trainer import TrainConfig, TrainingDiverged, TrainingError

    settings = RunSettings(
        data=DataSpec(name=args.dataset, image_size=args.image_size, val_fraction=args.val_fraction, seed=args.seed,
                      train_count=args.shapes_count, val_count=max(20, args.shapes_count // 8),
                      augmentation=Augmentation.from_dict(_parse_augment(args.augment))),
        model_name=args.model, model_options=_model_options(args),
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                          weight_decay=args.weight_decay, schedule=args.schedule, seed=args.seed, device=args.device,
                          num_workers=args.workers, backbone_lr_scale=args.backbone_lr_scale),
    )
    if args.resume and not args.out:
        run_dir = Path(args.resume).expanduser().resolve().parent
    else:
        run_dir = Path(args.out) if args.out else _default_run_dir(args)
    progress = _ConsoleProgress(args.quiet)
    # SIGINT and SIGTERM alike: before the trainer exists they abort at once (main prints one line); then the
    # first one stops after the batch and saves last.pt, a second one aborts once any save in progress is done.
    # os.write, not print: a handler that prints while the main thread prints raises "reentrant call".
    signals = SignalStop(on_first=lambda signum: os.write(
        2, b"\nstopping after this batch and saving last.pt (signal again to abort)...\n"))
    with signals:
        try:
            if settings.data.is_folder and not args.resume:
                _print_folder_health(args.dataset)
            trainer = prepare_trainer(settings, run_dir, resume=args.resume, callbacks=[progress.callback],
                                      overwrite=args.overwrite)
        except (DatasetError, CheckpointError, ModelError, TrainingError, RunFolderError) as exc:
            print(f"layerscope train: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"run directory: {run_dir}", flush=True)
        signals.attach(trainer.stop)
        try:
            summary = trainer.fit()
        except TrainingDiverged as exc:
            print(f"layerscope train: diverged: {exc}", file=sys.stderr)
            return EXIT_DIVERGED
        except TrainingError as exc:
            print(f"layerscope train: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if summary["stopped"]:
        print(f"stopped at epoch {summary['epoch']} step {summary['step']}; saved {run_dir / 'last.pt'}. "
              f"Resume with: layerscope train --resume {run_dir / 'last.pt'} --epochs {settings.train.epochs}")
        return signals.exit_code or EXIT_INTERRUPTED
    best = summary.get("best_val_acc")
    print(f"done: {summary['epoch']} epochs, best val acc {best:.3f}; checkpoints in {run_dir} (last.pt, best.pt)"
          if best is not None and math.isfinite(best) else f"done; checkpoints in {run_dir}")
    return EXIT_OK


# ---- predict -------------------------------------------------------------------------------------------
def cmd_predict(args) -> int:
    from core.checkpoint import CheckpointError
    from core.predict import Predictor

    try:
        predictor = Predictor.from_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        print(f"layerscope predict: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for r in predictor.iter_classify_files(args.images, top_k=args.top_k):
        failed += r.error is not None
        print(_prediction_line(r, args.json), flush=True)  # streamed: what is written stays written
        if r.error:
            print(f"layerscope predict: could not classify {r.source}: {r.error}", file=sys.stderr, flush=True)
    return EXIT_PARTIAL if failed else EXIT_OK


def _prediction_line(r, as_json: bool) -> str:
    if as_json:
        return json.dumps(r.to_dict(), allow_nan=False)  # to_dict turns NaN into null: always valid JSON
    if r.error:
        return f"{r.source}: ERROR {r.error}"
    return f"{r.source}: " + ", ".join(
        f"{label} {prob:.1%}" if math.isfinite(prob) else f"{label} (not a number)" for label, prob in r.top)


# ---- inspect -------------------------------------------------------------------------------------------
def cmd_inspect(args) -> int:
    from core.checkpoint import CheckpointError
    from core.imageio import ImageLoadError
    from core.inspect.report import inspect_to_folder

    target = _parse_value(args.target) if args.target is not None else None
    try:
        summary = inspect_to_folder(args.checkpoint, args.image, args.out, target=target, cam_layer=args.layer)
    except (CheckpointError, ImageLoadError, ValueError, KeyError) as exc:
        print(f"layerscope inspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    top = summary.get("prediction") or []
    if top:
        first = top[0]
        prob = first["prob"]  # None when the model's output is NaN (a diverged run)
        shown = f"{prob:.1%}" if prob is not None else "(the model's output is not a number)"
        print(f"{args.image}: {first['label']} {shown}")
    print(f"wrote {len(summary.get('layers', []))} layer mosaics, filters, saliency and summary.json to {args.out}")
    return EXIT_OK


# ---- dataset -------------------------------------------------------------------------------------------
def cmd_dataset(args) -> int:
    from core.data.folder import DatasetError
    from core.data.health import scan_health

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"layerscope dataset: {folder}: not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = scan_health(folder)
    except DatasetError as exc:  # empty folder, one class, no images: a message, never a traceback
        print(f"layerscope dataset: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"layerscope dataset: {folder}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_text())
    return EXIT_OK


HANDLERS = {"train": cmd_train, "predict": cmd_predict, "inspect": cmd_inspect, "dataset": cmd_dataset}


def _run_command(args) -> int:
    """Run one command; every failure is translated here, once: a message naming what to change, no traceback."""
    from core.interrupts import Interrupted, SignalStop

    try:
        with SignalStop():  # SIGTERM like Ctrl+C: one line and 128 + signal, even during the first imports
            return HANDLERS[args.command](args)
    except KeyboardInterrupt as exc:
        code = exc.exit_code if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
        print(f"layerscope {args.command}: interrupted ({'SIGTERM' if code == 143 else 'Ctrl+C'})", file=sys.stderr)
        return code
    except Exception as exc:
        from core.errors import describe_failure

        if os.environ.get(DEBUG_ENV):
            raise
        message = describe_failure(exc) or f"unexpected error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for details)"
        print(f"layerscope {args.command}: {message}", file=sys.stderr)
        return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _run_command(args)


if __name__ == "__main__":
    sys.exit(main())
