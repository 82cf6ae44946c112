"""A running top-K per channel over a dataset, kept by forward hooks that reduce as they go.

For every Conv2d (per channel: the spatial maximum and where it is) and every Linear layer (per unit: its
value), each batch is reduced on the device to [batch, channels] values, merged into the running [channels,
K] best and dropped: no activation is stored and nothing is copied to the host until the end.

Memory bound, whatever the dataset size: per layer K x channels x (value 4 B + image index 8 B + location
8 B), plus channels x classes sums for the mean activation per class. K=9 and 512 channels: ~100 KB a layer.
Images are kept as dataset indices, never copied.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from core.dossier.receptive import ReceptiveField, measure_receptive_fields
from core.models.hooks import Hooks, evaluating
from core.progress import NO_PROGRESS, Progress

DEFAULT_K = 9
HOOKED_TYPES = (nn.Conv2d, nn.Linear)


@dataclass
class LayerTopK:
    """One layer's result, as host numpy arrays (what is saved and drawn)."""

    name: str
    kind: str  # "conv" or "linear"
    values: np.ndarray  # [C, K] float32, best first; -inf where fewer than K images were seen
    indices: np.ndarray  # [C, K] int64 dataset index, -1 where empty
    locations: np.ndarray  # [C, K, 2] int32 (y, x) of the strongest unit in the feature map; (0, 0) for linear
    fmap_size: tuple[int, int]  # (H, W) of the feature map; (1, 1) for linear
    class_mean: np.ndarray | None = None  # [C, classes] mean of the ranked value over each class's images
    receptive_field: ReceptiveField | None = None
    ranked_by: str = "activation"  # the output layer: "log_probability" (see TopKTracker)

    @property
    def channels(self) -> int:
        return self.values.shape[0]


@dataclass
class TopKResult:
    layers: dict[str, LayerTopK]
    k: int
    images: int
    skipped: dict[str, str] = field(default_factory=dict)  # layer -> why it could not be hooked
    classes: list[str] = field(default_factory=list)


class _LayerState:
    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.ranked_by = "activation"
        self.values = self.indices = self.locations = None
        self.class_sum = None
        self.fmap_size = (1, 1)


class TopKTracker:
    """attach(model) -> run any forward passes -> detach() -> result(). Batches are numbered in the order
    the model sees them (a root pre-hook counts images), so the dataset must be iterated unshuffled."""

    def __init__(self, k: int = DEFAULT_K, num_classes: int = 0, layer_names: list[str] | None = None,
                 all_labels: torch.Tensor | None = None):
        if k < 1:
            raise ValueError(f"top-K needs K >= 1 (got {k})")
        self.k, self.num_classes, self.layer_names = int(k), int(num_classes), layer_names
        self.skipped: dict[str, str] = {}
        self._states: dict[str, _LayerState] = {}
        self._hooks: list[Hooks] = []
        self._seen = 0
        self._batch_start = 0
        self._labels: torch.Tensor | None = None  # labels of the batch in flight (for class means)
        self._class_counts: torch.Tensor | None = None
        self._all_labels = all_labels  # labels of the whole (unshuffled) dataset: batches are sliced from it

    # ---- hooks ---------------------------------------------------------------------------------------
    def attach(self, model: nn.Module) -> "TopKTracker":
        self.detach()
        try:
            self._hooks.append(Hooks({"": model}, self._count_batch, before=True))
        except RuntimeError as exc:  # TorchScript modules take no hooks at all
            self.skipped["(model)"] = (f"{type(model).__name__} takes no forward hooks ({exc}); a TorchScript or "
                                       "exported model cannot be searched: open its checkpoint instead")
            return self
        layers = self._hookable_layers(model)
        hooks = Hooks(layers, self._on_output, skip_refused=True)  # a scripted or otherwise sealed module: skipped
        self._hooks.append(hooks)
        self.skipped.update({name: f"cannot be hooked: {why}" for name, why in hooks.refused.items()})
        for name, module in layers.items():
            if name not in hooks.refused:
                self._states.setdefault(name, _LayerState(name, "conv" if isinstance(module, nn.Conv2d) else "linear"))
        self._mark_output_layer(model)
        if not self._states:
            self.skipped["(model)"] = (f"{type(model).__name__} has no Conv2d or Linear layer that takes forward "
                                       "hooks (a TorchScript or exported model?); open its checkpoint instead")
        return self

    def _hookable_layers(self, model: nn.Module) -> dict[str, nn.Module]:
        """The Conv2d and Linear layers to track (of `layer_names`, when given: the others are named in skipped)."""
        wanted = set(self.layer_names) if self.layer_names is not None else None
        layers = {}
        for name, module in model.named_modules():
            if not name or (wanted is not None and name not in wanted):
                continue
            if isinstance(module, HOOKED_TYPES):
                layers[name] = module
            elif wanted is not None:
                self.skipped[name] = f"{type(module).__name__} is not a Conv2d or Linear layer"
        return layers

    def _mark_output_layer(self, model: nn.Module) -> None:
        """The last Linear with one unit per class is ranked by log-probability: softmax fixes logits only up
        to a per-image constant, so raw logits rank images by that offset (a bright, high-contrast image
        lifts every logit) rather than by how much they look like the class."""
        if self.num_classes <= 0:
            return
        last = None
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                last = name if module.out_features == self.num_classes else None
        if last in self._states:
            self._states[last].ranked_by = "log_probability"

    def detach(self) -> None:
        for hooks in self._hooks:
            hooks.remove()
        self._hooks.clear()

    def set_batch_labels(self, labels: torch.Tensor | None) -> None:
        """Labels of the next batch (for the mean activation per class); None leaves class means out."""
        self._labels = labels

    def _count_batch(self, _name, inputs, _output) -> None:
        x = inputs[0] if inputs else None
        n = x.shape[0] if isinstance(x, torch.Tensor) and x.dim() > 0 else 0
        self._batch_start, self._seen = self._seen, self._seen + n
        if self._all_labels is not None:
            self._labels = self._all_labels[self._batch_start:self._seen]
        if self._labels is not None and self.num_classes > 0:
            if self._class_counts is None:
                self._class_counts = torch.zeros(self.num_classes, device=self._labels.device)
            self._class_counts.index_add_(0, self._labels, torch.ones(len(self._labels), device=self._labels.device))

    def _on_output(self, name: str, _inputs, output) -> None:
        if name in self.skipped:
            return
        if not isinstance(output, torch.Tensor) or output.dim() not in (2, 4):
            self.skipped[name] = "its output is not a [N, C] or [N, C, H, W] tensor"
            self._states.pop(name, None)
            return
        self._update(self._states[name], output.detach())

    def _update(self, state: _LayerState, out: torch.Tensor) -> None:
        batch, channels = out.shape[0], out.shape[1]
        device = out.device
        flat = None
        if out.dim() == 4:
            state.fmap_size = (out.shape[2], out.shape[3])
            flat = out.flatten(2)
            # amax is one vectorised pass (max with indices is ~7x slower on a CPU); where the maximum is gets
            # looked up below only for the few (channel, image) pairs that enter the top K.
            best = flat.amax(dim=2).float()  # [B, C]
        else:
            best = out.float().log_softmax(dim=1) if state.ranked_by == "log_probability" else out.float()
        if state.values is None:
            state.values = torch.full((channels, self.k), float("-inf"), device=device)
            state.indices = torch.full((channels, self.k), -1, dtype=torch.long, device=device)
            state.locations = torch.zeros((channels, self.k), dtype=torch.long, device=device)
        kept = state.values.shape[1]
        image_index = torch.arange(self._batch_start, self._batch_start + batch, device=device)
        values = torch.cat([state.values, best.t()], dim=1)  # [C, K + B]
        indices = torch.cat([state.indices, image_index.expand(channels, batch)], dim=1)
        state.values, keep = values.topk(min(self.k, values.shape[1]), dim=1)
        state.indices = indices.gather(1, keep)
        old = state.locations.gather(1, keep.clamp(max=kept - 1))
        if flat is not None:
            row = (keep - kept).clamp(min=0)  # the batch row of an entry that came from this batch
            channel = torch.arange(channels, device=device).unsqueeze(1).expand_as(keep)
            where = flat[row, channel].argmax(dim=-1)  # [C, K]: only C x K maps are searched
            state.locations = torch.where(keep >= kept, where, old)
        else:
            state.locations = torch.where(keep >= kept, torch.zeros_like(old), old)
        if self._labels is not None and self.num_classes > 0:
            if state.class_sum is None:
                state.class_sum = torch.zeros((channels, self.num_classes), device=device)
            state.class_sum.index_add_(1, self._labels.to(device), best.t())

    @property
    def layer_states(self) -> list[str]:
        """Names of the layers being tracked."""
        return list(self._states)

    # ---- result --------------------------------------------------------------------------------------
    def result(self, fields: dict[str, ReceptiveField] | None = None, classes: list[str] | None = None) -> TopKResult:
        layers = {}
        counts = self._class_counts
        for name, s in self._states.items():
            if s.values is None:
                continue
            values = s.values.cpu().numpy().astype(np.float32)
            fw = s.fmap_size[1]
            flat = s.locations.cpu().numpy()
            locations = np.stack([flat // fw, flat % fw], axis=-1).astype(np.int32)
            class_mean = None
            if s.class_sum is not None and counts is not None:
                class_mean = (s.class_sum / counts.clamp(min=1)).cpu().numpy().astype(np.float32)
            layers[name] = LayerTopK(name, s.kind, values, s.indices.cpu().numpy(), locations, s.fmap_size,
                                     class_mean, (fields or {}).get(name), s.ranked_by)
        return TopKResult(layers, self.k, self._seen, dict(self.skipped), list(classes or []))


def compute_topk(model: nn.Module, dataset, *, k: int = DEFAULT_K, classes: list[str] | None = None,
                 input_shape: tuple[int, int, int] | None = None, batch_size: int = 128,
                 device: str | torch.device = "cpu", progress: Progress = NO_PROGRESS,
                 layer_names: list[str] | None = None) -> TopKResult:
    """The top-K images per channel of every Conv2d / Linear layer of `model` over `dataset` (which yields
    (tensor, label)), in one inference-mode pass, reported to `progress` after each batch (a cancel stops it
    with core.errors.Cancelled). Receptive fields are measured when input_shape is given."""
    from core.data.bundle import make_loader

    device = torch.device(device)
    model = model.to(device)
    tracker = TopKTracker(k, len(classes or []), layer_names)
    loader = make_loader(dataset, batch_size, shuffle=False, pin_memory=device.type == "cuda")
    done = 0
    tracker.attach(model)
    try:
        with evaluating(model), torch.inference_mode():
            for inputs, labels in loader:
                progress.check_cancelled()
                tracker.set_batch_labels(labels.to(device, non_blocking=True) if classes else None)
                model(inputs.to(device, non_blocking=True))
                done += inputs.shape[0]
                progress.update(done, len(dataset), f"top images: {done}/{len(dataset)}")
    finally:
        tracker.detach()
    fields = None
    if input_shape is not None:
        modules = dict(model.named_modules())
        fields = measure_receptive_fields(model, {n: modules[n] for n in tracker.layer_states}, input_shape)
    return tracker.result(fields, classes)
