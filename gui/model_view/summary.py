"""Build the chosen model once, off the GUI thread, and describe it as plain data for the views.

Everything here runs on a worker thread (torch is imported here, never at window start) and returns a
ModelSummary of plain Python values: the GUI never holds the model itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core import catalog


@dataclass
class SummaryRequest:
    model_name: str
    options: dict
    num_classes: int = 2
    in_channels: int = 3
    image_size: int = 64
    batch_size: int = 16
    device: str = "auto"


@dataclass
class Block:
    """One box of the diagram: a group of consecutive layers."""

    title: str
    detail: str
    params: int
    trainable: bool = True


@dataclass
class ModelSummary:
    request: SummaryRequest
    rows: list = field(default_factory=list)  # core.models.LayerRow
    total_params: int = 0
    trainable_params: int = 0
    size_mb: float = 0.0
    blocks: list[Block] = field(default_factory=list)
    memory_text: str = ""
    fits: bool | None = None  # None: unknown
    warning: str = ""  # why it would not fit, and what to do
    input_note: str = ""  # why the input differs from the dataset's (pretrained weights)
    asked: SummaryRequest | None = None  # the request as made (`request` is what was built)
    memory: object | None = None


def fmt_shape(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


def fmt_count(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e4:
        return f"{n / 1e3:.1f} k"
    return f"{n:,}"


def summarise(request: SummaryRequest, context=None) -> ModelSummary:
    import torch  # noqa: F401  (imported here, on the worker thread)

    from dataclasses import replace

    from core.data.spec import DataSpec
    from core.models import ModelSpec, build_model, layer_summary
    from core.models.torchvision_models import data_spec_for_model

    asked = request
    # Pretrained weights bring their own input: RGB at their training size (what a run will use too).
    adapted = data_spec_for_model(DataSpec(name="model view"), request.model_name, request.options)
    if adapted.image_size is not None:
        request = replace(request, in_channels=adapted.channels or 3, image_size=adapted.image_size)
        note = "the pretrained weights' input size"
    else:
        note = ""
    # Weight sources change where the weights come from, not the shape: skipped, so no download starts.
    options = {k: v for k, v in request.options.items() if k not in catalog.WEIGHT_OPTIONS}
    spec = ModelSpec(request.model_name, request.num_classes, request.in_channels, request.image_size, options)
    model = build_model(spec)
    if context is not None:
        context.check_cancelled()
    rows = layer_summary(model, (request.in_channels, request.image_size, request.image_size))
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    size_bytes = sum(p.numel() * p.element_size() for p in params) + sum(
        b.numel() * b.element_size() for b in model.buffers())
    summary = ModelSummary(request, rows, total, trainable, size_bytes / 2**20,
                           blocks=diagram_blocks(rows, request), input_note=note, asked=asked)
    _add_memory(summary, model, spec)
    return summary


def _add_memory(summary: ModelSummary, model, spec) -> None:
    """Training memory at the chosen batch size (core.models.memory), and whether it fits the device."""
    from core.models.memory import model_memory

    req = summary.request
    device = req.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    estimate = model_memory(model, (req.in_channels, req.image_size, req.image_size), req.batch_size, device=device)
    summary.memory, summary.fits = estimate, estimate.fits
    where = "GPU" if str(estimate.device).startswith("cuda") else "system memory"
    free = f" of {estimate.available_mb:,.0f} MB free {where}" if estimate.available_mb is not None else ""
    summary.memory_text = (f"Training at batch size {req.batch_size} needs about <b>{estimate.total_mb:,.0f} MB</b>"
                           f"{free} ({estimate.activations_mb_per_image:,.2f} MB of activations per image)")
    summary.warning = estimate.warning or ""


_PRIMARY = ("Linear", "Conv2d", "Conv1d", "Conv3d")


def _prefix(name: str, depth: int) -> str:
    return ".".join(name.split(".")[:depth])


def _group_by_prefix(rows, depth: int) -> list[list]:
    groups: list[list] = []
    for row in rows:
        if groups and _prefix(groups[-1][0].name, depth) == _prefix(row.name, depth):
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def diagram_blocks(rows, request: SummaryRequest, max_blocks: int = 14) -> list[Block]:
    """Input -> one block per weighted layer (Linear / Conv, with the activation etc. after it) -> output.
    A large torchvision network is grouped by its top-level modules (stem, layer1..4, head) instead."""
    groups: list[list] = []
    for row in rows:
        if row.type in _PRIMARY or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    by_layer = len(groups) <= max_blocks
    if not by_layer:
        groups = _group_by_prefix(rows, 1)
        if len(groups) < 4:  # mobilenet / efficientnet: everything is inside `features`
            groups = _group_by_prefix(rows, 2)
    blocks = [Block("Input", fmt_shape((request.in_channels, request.image_size, request.image_size)), 0)]
    counters: dict[str, int] = {}
    for i, group in enumerate(groups):
        params = sum(r.params for r in group)
        trainable = any(r.trainable for r in group) or params == 0
        head = next((r for r in group if r.type in _PRIMARY), group[0])
        # The shape this block hands on: its last layer from the same module as its main layer.
        same_module = [r for r in group if _prefix(r.name, r.name.count(".")) == _prefix(head.name, head.name.count("."))]
        out = (same_module or group)[-1].output_shape
        if i == len(groups) - 1:
            title, detail = "Output", (f"{out[0]} classes" if len(out) == 1 else fmt_shape(out))
        elif by_layer and head.type == "Linear":
            counters["hidden"] = counters.get("hidden", 0) + 1
            title, detail = f"Hidden {counters['hidden']}", f"{out[0]} units"
        elif by_layer and head.type.startswith("Conv"):
            counters["conv"] = counters.get("conv", 0) + 1
            title, detail = f"Conv {counters['conv']}", fmt_shape(out)
        elif by_layer:
            title, detail = head.type, fmt_shape(out)
        else:
            title, detail = _prefix(head.name, 2 if "." in head.name and len(groups) > 10 else 1), fmt_shape(out)
        blocks.append(Block(title, detail, params, trainable))
    return blocks
