"""`layerscope export`: a checkpoint as ONNX, torch.export (.pt2) or TorchScript, verified against PyTorch."""
from __future__ import annotations

from core import exit_codes
from core.cli.failure import CommandError


def register(sub) -> None:
    x = sub.add_parser("export", help="export a checkpoint to ONNX, torch.export (.pt2) or TorchScript, verified")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--format", required=True, choices=("onnx", "pt2", "torchscript"))
    x.add_argument("--out", required=True, help="the model file to write (FILE.json beside it: classes, preprocessing)")
    x.add_argument("--dataset", default=None, help="folder whose validation images verify the export "
                                                   "(default: the training data)")
    x.set_defaults(handler=run)


def run(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.evaluate.export import ExportError, export_checkpoint

    try:
        report = export_checkpoint(args.checkpoint, args.format, args.out, dataset=args.dataset)
    except (CheckpointError, ExportError) as exc:
        raise CommandError(f"FAILED: {exc}") from None
    print(report.format_text())
    return exit_codes.OK
