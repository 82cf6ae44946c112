"""`layerscope inspect`: per-layer mosaics, filters, saliency and summary.json for one image."""
from __future__ import annotations

from core import exit_codes
from core.cli.args import parse_value
from core.cli.failure import CommandError


def register(sub) -> None:
    i = sub.add_parser("inspect", help="write per-layer mosaics, filters, saliency and summary.json for an image")
    i.add_argument("--checkpoint", required=True)
    i.add_argument("--out", required=True)
    i.add_argument("--target", default=None, help="class name or index for saliency (default: the predicted class)")
    i.add_argument("--layer", default=None, help="Grad-CAM layer (default: the last conv layer)")
    i.add_argument("image", metavar="IMAGE")
    i.set_defaults(handler=run)


def run(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.inspect.report import inspect_to_folder
    from core.io.images import ImageLoadError

    target = parse_value(args.target) if args.target is not None else None
    try:
        summary = inspect_to_folder(args.checkpoint, args.image, args.out, target=target, cam_layer=args.layer)
    except (CheckpointError, ImageLoadError, ValueError, KeyError) as exc:
        raise CommandError(str(exc)) from None
    top = summary.get("prediction") or []
    if top:
        first = top[0]
        prob = first["prob"]  # None when the model's output is NaN (a diverged run)
        shown = f"{prob:.1%}" if prob is not None else "(the model's output is not a number)"
        print(f"{args.image}: {first['label']} {shown}")
    print(f"wrote {len(summary.get('layers', []))} layer mosaics, filters, saliency and summary.json to {args.out}")
    return exit_codes.OK
