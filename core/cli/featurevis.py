"""`layerscope visualize` and `layerscope concepts`: what units of a checkpoint want to see, and which concepts
a class relies on (core.featurevis), headless.

    layerscope visualize --checkpoint CKPT --layer L [--channels 0-15 | --class C] --out DIR
    layerscope concepts --checkpoint CKPT --dataset DIR --class C --layer L [--concept DIR ...] --out DIR
"""
from __future__ import annotations

import argparse
import math
import sys

from core import catalog, exit_codes
from core.cli.args import setting_type
from core.cli.failure import CommandError

def _count(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high} (got {value})")
        return value
    return parse


def register(sub) -> None:
    v = sub.add_parser("visualize", help="pictures optimised to excite units of a layer (or output classes), with "
                                         "sanity numbers: PNGs + sanity.json",
                       description="Optimise one picture per unit to excite it (Fourier / decorrelated-colour "
                                   "parameterisation, jitter, scale and rotation), in the model's own size, "
                                   "normalisation and channels. Beside each picture: its activation relative to "
                                   "the strongest real image's, and for a first layer how closely it matches the "
                                   "unit's weights.")
    v.add_argument("--checkpoint", required=True)
    v.add_argument("--layer", default=None, help="a conv or linear layer by name (e.g. features.0; `layerscope "
                                                 "inspect` lists them); not needed with --class")
    which = v.add_mutually_exclusive_group()
    which.add_argument("--channels", "--units", dest="units", default=None, metavar="LIST",
                       help="units of the layer: 0-15, 3 or 0-3,8 (default: every unit)")
    which.add_argument("--class", dest="classes", action="append", default=None, metavar="C",
                       help="an output class by name or index (repeatable; 'all' for every class)")
    v.add_argument("--out", required=True, help="folder: LAYER/unit-NNNN.png (or class-NNN-NAME.png), mosaic.png, "
                                                "sanity.json, pictures.npz")
    v.add_argument("--dataset", default=None, help="where to look for each unit's strongest real image: a folder "
                                                   "with one sub-folder per class or a built-in dataset (default: "
                                                   "the data the checkpoint was trained on)")
    _setting(v, "--real-images", catalog.VIS_REAL_IMAGES)
    _setting(v, "--steps", catalog.VIS_STEPS)
    v.add_argument("--seed", type=_count(0, 2**31 - 1), default=0)
    v.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    v.set_defaults(handler=run_visualize)

    c = sub.add_parser("concepts", help="concept tests (TCAV): does a class rely on stripes, dots, ... or your own "
                                        "concept folders at a layer? A table with p-values, a chart",
                       description="TCAV scores (Captum) of a class at a layer for drawn concepts (stripes, dots, "
                                   "checkerboard, solid colours, noise) and folders of images you give, each "
                                   "tested against random concepts over several runs (a t-test; a score that "
                                   "is not significant is said to be so).")
    c.add_argument("--checkpoint", required=True)
    c.add_argument("--dataset", default=None, help="the class's images: a folder with one sub-folder per class or "
                                                   "a built-in dataset (default: the data the checkpoint was "
                                                   "trained on, its validation split)")
    c.add_argument("--class", dest="classes", action="append", required=True, metavar="C",
                   help="the class to explain, by name or index (repeatable)")
    c.add_argument("--layer", required=True, help="a conv or linear layer inside the network (e.g. features.6)")
    c.add_argument("--concept", dest="concepts", action="append", default=[], metavar="DIR",
                   help="a folder of images showing a concept, or a built-in concept name such as stripes-45 "
                        "(repeatable)")
    c.add_argument("--no-builtin", action="store_true",
                   help="test only the --concept ones (default: also stripes, dots, checkerboard, solid, noise)")
    c.add_argument("--out", required=True, help="folder: tcav-CLASS-LAYER.json, .csv, .png (bar chart) and .npz "
                                                "(the concept vectors)")
    _setting(c, "--random-runs", catalog.CONCEPT_RANDOM_RUNS)
    _setting(c, "--images", catalog.CONCEPT_IMAGES)
    _setting(c, "--class-images", catalog.CONCEPT_CLASS_IMAGES)
    c.add_argument("--seed", type=_count(0, 2**31 - 1), default=0)
    c.add_argument("--device", default="cpu", type=setting_type(catalog.DEVICE))
    c.set_defaults(handler=run_concepts)


def _setting(parser, flag: str, setting: catalog.NumberSetting) -> None:
    parser.add_argument(flag, type=setting_type(setting), default=setting.default,
                        help=f"{setting.help} (default {setting.default}; {setting.minimum}-{setting.maximum})")


def _show_progress(done: int, total: int, text: str) -> None:
    print(f"\r{done / max(total, 1):5.0%} {text:<40}", end="", file=sys.stderr, flush=True)


def _progress():
    from core.progress import Reporter

    return Reporter(_show_progress)


def _translated(exc: Exception, out: str) -> CommandError:
    """A failure of either command as the message and exit status the user gets."""
    from core.errors import LayerscopeError

    if isinstance(exc, OSError) and not isinstance(exc, LayerscopeError):
        return CommandError(f"cannot write {out}: {exc.strerror or exc}", exit_codes.FAILED)
    return CommandError(str(exc))


def run_visualize(args) -> int:
    from core.errors import LayerscopeError
    from core.featurevis.optimize import VisSettings

    if args.layer is None and args.classes is None:
        raise CommandError("name a --layer (with --channels, or every unit of it) or an output --class")
    classes = None if args.classes is None else ("all" if "all" in args.classes else args.classes)
    try:
        result = _visualize(args, classes, VisSettings(steps=args.steps, seed=args.seed))
    except (LayerscopeError, OSError) as exc:
        raise _translated(exc, args.out) from None
    finally:
        print(file=sys.stderr)  # end the progress line
    for note in result.notes:
        print(f"layerscope visualize: {note}", file=sys.stderr)
    print(f"{'unit':<24} {'activation':>10} {'vs real':>8}  check")
    for p in result.pictures:
        print(f"{p.label:<24} {p.activation:10.3f} {_times(p.ratio):>8}  {_check(p)}")
    written = sorted({str(f.parent) for f in result.files})
    print(f"{len(result.pictures)} pictures of {result.layer}; wrote {len(result.files)} files to "
          f"{', '.join(written) if written else args.out}")
    return exit_codes.OK


def _visualize(args, classes, settings):
    from core.checkpoints.checkpoint import load_checkpoint
    from core.featurevis.visualize import visualize_units

    ckpt = load_checkpoint(args.checkpoint)
    if classes == "all":
        classes = list(range(len(ckpt.classes)))
    return visualize_units(ckpt, args.layer, args.units, classes, args.out, dataset=args.dataset,
                           settings=settings, real_images=args.real_images, device=args.device,
                           progress=_progress())


def _times(ratio: float | None) -> str:
    return "-" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}x"


def _check(picture) -> str:
    """The picture's own check, in words: the weights (a first layer) or the model's verdict (a class)."""
    if picture.weight_correlation is not None:
        return f"matches its weights: r = {picture.weight_correlation:.2f}"
    if picture.predicted_class is not None:
        return f"classified as {picture.predicted_class} (p({picture.label}) = {picture.class_probability:.2f})"
    return ""


def run_concepts(args) -> int:
    from core.errors import LayerscopeError
    from core.featurevis.concept_images import DEFAULT_CONCEPTS
    from core.featurevis.concepts import concept_test

    concepts = list(dict.fromkeys([*([] if args.no_builtin else DEFAULT_CONCEPTS), *args.concepts]))
    if not concepts:
        raise CommandError("no concept to test: give --concept DIR (or leave out --no-builtin)")
    try:
        results = concept_test(args.checkpoint, args.dataset, list(args.classes), args.layer, concepts, args.out,
                               random_runs=args.random_runs, concept_count=args.images,
                               class_count=args.class_images, seed=args.seed, device=args.device,
                               progress=_progress())
    except (LayerscopeError, OSError) as exc:
        raise _translated(exc, args.out) from None
    finally:
        print(file=sys.stderr)
    for result in results:
        for note in result.notes:
            print(f"layerscope concepts: {note}", file=sys.stderr)
        print(f"class {result.class_name!r} at {result.layer} ({result.class_images} images, {result.random_runs} "
              f"random runs; significant: p < {result.threshold:.2g})")
        print(f"  {'concept':<24} {'score':>11} {'random':>7} {'p':>8}  verdict")
        for s in result.scores:
            p = "-" if s.p_value is None else f"{s.p_value:.2g}"
            random_mean = sum(s.random_scores) / max(len(s.random_scores), 1)
            word = "significant" if s.significant else "not significant"
            print(f"  {s.concept:<24} {s.mean:5.2f}±{s.std:4.2f} {random_mean:7.2f} {p:>8}  {word}")
        print(f"  wrote {', '.join(str(f) for f in result.files)}")
    return exit_codes.OK
