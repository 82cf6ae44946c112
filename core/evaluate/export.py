"""Export a checkpoint's model for use without Layerscope: ONNX, a torch.export program (.pt2) or TorchScript.

Every format has a dynamic batch size and is checked right after it is written: it is loaded back and run on
real validation images made by the one pipeline (core.data.pipeline, through evaluate's data: the checkpoint's
own data when it can be found, else a seeded random batch), and its outputs are compared with the PyTorch
model's. A disagreement deletes the file and raises ExportError. A sidecar FILE.json holds the class names,
the preprocessing (size, mean, std, decode rule) and the pipeline in words, so a user can feed it the same input.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.checkpoints.checkpoint import Checkpoint, load_checkpoint
from core.errors import LayerscopeError

FORMATS = ("onnx", "pt2", "torchscript")
MAX_ABS_DIFF = 1e-3  # on logits; float32 kernels differ by ~1e-6, a broken export by far more
MIN_AGREEMENT = 1.0  # every verification image must get the same top-1 class


class ExportError(LayerscopeError):
    """The export failed or does not reproduce the model; the message says which and by how much."""


@dataclass
class ExportReport:
    path: str
    format: str
    images: int  # verification images
    source: str  # where they came from
    max_abs_diff: float
    top1_agreement: float

    def format_text(self) -> str:
        return (f"exported {self.format} to {self.path}; verified on {self.images} images from {self.source}: "
                f"max abs diff {self.max_abs_diff:.2e}, top-1 agreement {self.top1_agreement:.1%}")


def verification_batch(ckpt: Checkpoint, dataset=None, count: int = 32) -> tuple[torch.Tensor, str]:
    """Up to `count` real, preprocessed validation images; a seeded random batch when no data is found."""
    from core.evaluate.source import EvaluationError, eval_data

    try:
        data = eval_data(ckpt, dataset, "val")
        n = min(count, len(data.dataset))
        return torch.stack([data.dataset[i][0] for i in range(n)]), data.source
    except (EvaluationError, OSError, ValueError):
        size, channels = ckpt.preprocess.image_size, ckpt.preprocess.channels
        generator = torch.Generator().manual_seed(0)
        return torch.randn(count, channels, size, size, generator=generator), "random inputs (no validation data found)"


def _export_onnx(model, example, out: Path) -> callable:
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(model, (example,), dynamo=True, input_names=["input"], output_names=["logits"],
                                dynamic_shapes=({0: batch},), external_data=False,
                                verbose=False)
    program.save(str(out))
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"input": x.numpy()})[0]


def _export_pt2(model, example, out: Path) -> callable:
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(out))
    loaded = torch.export.load(str(out)).module()
    return lambda x: loaded(x).detach().numpy()


def _export_torchscript(model, example, out: Path) -> callable:
    import warnings

    with warnings.catch_warnings():  # TorchScript is deprecated upstream, still what many runtimes load
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(out))
        loaded = torch.jit.load(str(out))
    return lambda x: loaded(x).detach().numpy()


EXPORTERS = {"onnx": _export_onnx, "pt2": _export_pt2, "torchscript": _export_torchscript}


def export_checkpoint(checkpoint: Checkpoint | str | Path, fmt: str, out: str | Path, *, dataset=None,
                      verify_images: int = 32) -> ExportReport:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    model = ckpt.build_model().eval()
    images, source = verification_batch(ckpt, dataset, verify_images)
    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as exc:
            raise ExportError(f"ONNX export needs onnx, onnxscript and onnxruntime ({exc.name} is missing): "
                              "pip install 'layerscope[export]'") from None
    example = images[:2] if len(images) >= 2 else images.repeat(2, 1, 1, 1)
    try:
        run_exported = EXPORTERS[fmt](model, example, out)
        with torch.inference_mode():
            expected = model(images).float().numpy()
        # Two batch sizes other than the example's: the batch dimension really is dynamic.
        got = np.concatenate([run_exported(images[:1]), run_exported(images[1:])]) if len(images) > 1 \
            else run_exported(images)
    except ExportError:
        raise
    except Exception as exc:  # exporters raise many types; the user needs the reason, not a traceback
        _remove(out)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"{fmt} export of '{ckpt.model_spec.name}' failed: {first[:300]}") from exc
    diff = float(np.abs(got - expected).max())
    agreement = float(np.mean(got.argmax(1) == expected.argmax(1)))
    report = ExportReport(str(out), fmt, len(images), source, diff, agreement)
    if not (diff <= MAX_ABS_DIFF and agreement >= MIN_AGREEMENT):
        _remove(out)
        raise ExportError(f"the exported {fmt} model does not reproduce the PyTorch model: max abs diff {diff:.3g} "
                          f"(allowed {MAX_ABS_DIFF}), top-1 agreement {agreement:.1%}; {out} was deleted")
    _write_sidecar(ckpt, out, fmt)
    return report


def _write_sidecar(ckpt: Checkpoint, out: Path, fmt: str) -> None:
    meta = {"format": fmt, "model": ckpt.model_spec.to_dict(), "classes": list(ckpt.classes),
            "preprocess": ckpt.preprocess.to_dict(), "input": "float32 [batch, channels, size, size], normalised",
            "pipeline": _pipeline_text(ckpt.preprocess),
            "output": "logits [batch, classes]; softmax for probabilities"}
    Path(f"{out}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _pipeline_text(pre) -> str:
    """How to make the input from a file, step by step (core.data.pipeline), for a user without Layerscope."""
    from core.data.transforms import DECODE_REDUCED

    side = pre.image_size
    decode = (f"decode with Pillow, a JPEG after img.draft(None, ({side}, {side})) (reduced-scale decoding: both "
              f"sides stay >= {side})" if pre.decode == DECODE_REDUCED else "decode every pixel with Pillow")
    return (f"{decode}; EXIF orientation applied; RGB (transparency on white); resize the shorter side to "
            f"{pre.image_size} (Pillow bilinear, antialiased); centre crop {pre.image_size}x{pre.image_size}; "
            f"{'ITU-R 601 luma; ' if pre.channels == 1 else ''}divide by 255; subtract mean, divide by std")


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
