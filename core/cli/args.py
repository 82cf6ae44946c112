"""The `layerscope` command line: argparse built from core.catalog (choices, defaults, limits and help), and
the parsing of the compact values (--option KEY=VALUE, --augment flip,crop=0.6). Torch-free."""
from __future__ import annotations

import argparse
import json

from core import catalog
from core.runs import layout
from core.runs.location import RUNS_DIR_ENV, default_runs_root, new_run_name

COMMANDS = ("train", "predict", "inspect", "dataset", "export-tensorboard", "evaluate", "export", "label-issues",
            "compare-eval", "finetune", "corrections", "dossier")


def parse_value(text: str):
    """JSON when it parses (numbers, lists, true/false), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"layerscope: --option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key.strip().replace("-", "_")] = parse_value(value)
    return options


def _augment_usage() -> str:
    return ", ".join(f"{a.name}[={'MIN_SCALE' if a.name == 'crop' else 'VALUE'}]" if a.name != "flip" else a.name
                     for a in catalog.AUGMENTATIONS.values())


def parse_augment(text: str | None) -> dict:
    """'flip,crop=0.6,rotate=15,jitter=0.2' -> Augmentation fields (a bare word takes its catalogue value)."""
    aug: dict = {}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        info = catalog.AUGMENTATIONS.get(key.strip())
        if info is None:
            raise SystemExit(f"layerscope: unknown augmentation {key!r}; use {_augment_usage()}")
        aug[info.field] = info.on_value
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            raise SystemExit(f"layerscope: --augment {part!r}: {value!r} is not a number") from None
        aug["crop_scale_min" if key == "crop" else info.field] = number
    return aug


def _limits(setting: catalog.NumberSetting) -> str:
    def shown(v) -> str:
        return str(int(v)) if setting.integer else f"{v:g}"

    default = "auto" if setting.default is None else shown(setting.default)
    return f"default {default}; {shown(setting.minimum)}..{shown(setting.maximum)}"


def _number(parser, flag: str, setting: catalog.NumberSetting, **kw) -> None:
    text = f"{setting.help} ({_limits(setting)})" if setting.help else f"{setting.label} ({_limits(setting)})"
    parser.add_argument(flag, type=int if setting.integer else float, default=setting.default, help=text, **kw)


def _choice(parser, flag: str, setting: catalog.ChoiceSetting) -> None:
    parser.add_argument(flag, choices=setting.names, default=setting.default,
                        help=f"{setting.help or setting.label} (default {setting.default})")


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a model headless, with a progress bar",
                       epilog=f"Without --out, runs go to a new folder named like {new_run_name('cnn', 'shapes')} "
                              f"under the runs root (${RUNS_DIR_ENV}, else {default_runs_root()}), the same "
                              "place the desktop app writes its runs.")
    t.add_argument("--dataset", default=catalog.DEFAULT_DATASET,
                   help=f"{', '.join(catalog.DATASET_NAMES)} (built in or downloaded once), or a folder with one "
                        f"sub-folder per class (default {catalog.DEFAULT_DATASET})")
    t.add_argument("--model", default=catalog.DEFAULT_MODEL,
                   help=f"{', '.join(catalog.MODEL_NAMES)} (default {catalog.DEFAULT_MODEL})")
    _number(t, "--epochs", catalog.EPOCHS)
    _number(t, "--batch-size", catalog.BATCH_SIZE)
    _number(t, "--lr", catalog.LEARNING_RATE)
    _choice(t, "--optimizer", catalog.OPTIMIZER)
    _number(t, "--weight-decay", catalog.WEIGHT_DECAY)
    _choice(t, "--schedule", catalog.SCHEDULE)
    _number(t, "--seed", catalog.SEED)
    t.add_argument("--device", default=catalog.DEVICE.default, help=f"{catalog.DEVICE.help} (default {catalog.DEVICE.default})")
    _number(t, "--image-size", catalog.IMAGE_SIZE)
    _number(t, "--shapes-count", catalog.SHAPES_TRAIN_COUNT)
    _number(t, "--val-fraction", catalog.VAL_FRACTION)
    t.add_argument("--augment", default="", help=f"comma list: {_augment_usage()} (bare words: "
                   + ", ".join(f"{a.name}={a.on_value}" for a in catalog.AUGMENTATIONS.values()
                               if not isinstance(a.on_value, bool)) + ")")
    _number(t, "--workers", catalog.WORKERS)
    t.add_argument("--hidden", default=None, help="mlp hidden layer widths, e.g. "
                   + ",".join(str(w) for w in catalog.MLP_HIDDEN_DEFAULT) + " (the default)")
    t.add_argument("--pretrained", action="store_true", help="torchvision models: start from pretrained weights (downloads once)")
    t.add_argument("--weights", default=None, help="torchvision models: a local weights file to start from")
    t.add_argument("--freeze-backbone", action="store_true", help=catalog.FREEZE_BACKBONE.help)
    _number(t, "--backbone-lr-scale", catalog.BACKBONE_LR_SCALE)
    t.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="any other model option (repeatable)")
    t.add_argument("--out", default=None, help=f"run directory ({layout.CONFIG}, {layout.METRICS}, {layout.LAST}, {layout.BEST}); "
                                               "default: a new folder under the runs root (see below)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help=f"continue a run from its {layout.LAST}; --epochs is the new total")
    t.add_argument("--finetune-from", default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights with a fresh optimizer, on its data (the fine-tune the "
                        "app's Evaluate tab starts): --epochs epochs at the checkpoint run's lr / 10, or the epochs "
                        "and lr of --settings")
    t.add_argument("--overwrite", action="store_true",
                   help=f"start a new run in an --out folder that holds one (the old files move to {layout.PREVIOUS_PREFIX}<time>/)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _number(t, "--checkpoint-every-min", catalog.CHECKPOINT_EVERY_MIN, metavar="MIN")
    _number(t, "--early-stop-patience", catalog.EARLY_STOP_PATIENCE, metavar="N")
    _choice(t, "--early-stop-metric", catalog.EARLY_STOP_METRIC)
    _number(t, "--heartbeat-s", catalog.HEARTBEAT_S, metavar="S")
    t.add_argument("--tensorboard", action="store_true", help=f"also write TensorBoard event files to RUN/{layout.TENSORBOARD}")
    _number(t, "--nproc", catalog.NPROC, metavar="N")
    t.add_argument("--settings", default=None, metavar="JSON",
                   help="a run's whole settings as JSON (what the app writes; replaces the data, model and training options)")
    t.add_argument("--amp", action=argparse.BooleanOptionalAction, default=catalog.AMP.default,
                   help=f"{catalog.AMP.help} (default on)")
    t.add_argument("--compile", action="store_true", help=catalog.COMPILE.help)
    t.add_argument("--dossier", action="store_true", help=catalog.DOSSIER_TOPK.help)
    t.add_argument("--layer-health-every", type=int, nargs="?", const=catalog.LAYER_HEALTH_SUGGESTED,
                   default=catalog.LAYER_HEALTH_EVERY.default, metavar="N",
                   help=f"{catalog.LAYER_HEALTH_EVERY.help}; the flag alone means {catalog.LAYER_HEALTH_SUGGESTED}")
    t.add_argument("--probe", action="append", default=[], metavar="IMAGE",
                   help="an image whose prediction, probabilities, layer statistics and saliency are kept over "
                        "the run in RUN/probes/ (repeat for several)")
    t.epilog += (" --batch-size is the global batch: with --nproc N (or torchrun) each process takes 1/N of it, "
                 "so a run makes the same steps at any number of processes. --nproc N starts N local processes "
                 "with torch's launcher; on a cluster run `torchrun --nproc_per_node G --nnodes M "
                 "--rdzv_backend c10d --rdzv_endpoint HOST:PORT -m core.cli train --out SHARED/RUN ...` on "
                 "every machine.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerscope", description=(
        "Train image classifiers and look inside them. With no command, opens the desktop app."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)

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

    x = sub.add_parser("export-tensorboard", help=f"convert runs' {layout.METRICS} to TensorBoard event files")
    x.add_argument("runs", nargs="+", metavar="RUN", help=f"run folders (or their {layout.METRICS})")
    x.add_argument("--out", default=None, help=f"folder for the event files (default: RUN/{layout.TENSORBOARD}; "
                                               "with several runs, one sub-folder per run)")

    d = sub.add_parser("dataset", help="check an image folder: classes, splits, bad files, duplicates")
    d.add_argument("folder")
    d.add_argument("--json", action="store_true")

    from core.cli import evaluate as cli_eval  # evaluate, export, label-issues, compare-eval, finetune, corrections

    cli_eval.add_parsers(sub)
    from core.cli import dossier as cli_dossier  # dossier: top images per channel

    cli_dossier.add_parsers(sub)
    return parser
