"""Will this model train at this batch size? A rough estimate of training memory against what is free.

Training holds the weights, their gradients, the optimizer state (Adam: two more copies of every trainable
parameter) and every layer's activations for the backward pass. Activations are measured with forward
hooks on one dummy image (summing each leaf layer's output) and scaled by the batch size; this
overestimates a little where layers run in place, which is the safe side for a warning.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from core.models.summary import probe_leaf_outputs

MB = 2**20
OVERHEAD = 1.2  # allocator fragmentation, workspaces, the loss and the input batch


@dataclass
class MemoryEstimate:
    params: int
    trainable: int
    size_mb: float  # weights alone
    activations_mb_per_image: float
    total_mb: float  # estimated training memory at this batch size
    fits: bool | None  # None: the free memory could not be measured
    available_mb: float | None
    device: str = "cpu"
    batch_size: int = 1

    @property
    def warning(self) -> str | None:
        """A sentence for the user when the run would probably not fit, else None."""
        if self.fits is not False:
            return None
        per_image = self.activations_mb_per_image * OVERHEAD
        fixed = self.total_mb - per_image * self.batch_size
        room = int(max(0.0, (self.available_mb or 0) - fixed) // max(per_image, 1e-9))
        hint = f"a batch size of about {room} would fit" if room >= 1 else "pick a smaller model or image size"
        return (f"training needs about {self.total_mb:,.0f} MB but only {self.available_mb:,.0f} MB of "
                f"{'GPU' if self.device.startswith('cuda') else 'system'} memory is free; {hint}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["warning"] = self.warning
        return d


def available_memory_mb(device: str | torch.device = "cpu") -> float | None:
    """Free memory for training: CUDA's free memory on a GPU, MemAvailable from /proc/meminfo on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
            return free / MB
        except (RuntimeError, AssertionError):
            return None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def activation_bytes_per_image(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Sum of every leaf layer's output size (bytes, float32) for one input, measured with forward hooks."""
    total = 0

    def add(_name, out):
        nonlocal total
        outs = out if isinstance(out, (tuple, list)) else (out,)
        total += sum(o.numel() * 4 for o in outs if isinstance(o, torch.Tensor))

    probe_leaf_outputs(model, input_shape, add)
    return total


def model_memory(model: nn.Module, input_shape: tuple[int, int, int], batch_size: int,
                 device: str | torch.device = "cpu", optimizer: str = "adam") -> MemoryEstimate:
    """Estimate training memory for `model` on inputs (C, H, W) at `batch_size`, and whether it fits `device`."""
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    weights_mb = (params + buffers) * 4 / MB
    state_copies = {"adam": 2, "adamw": 2, "sgd": 1}.get(optimizer, 2)  # Adam: m and v; SGD: momentum
    grads_and_state_mb = trainable * 4 * (1 + state_copies) / MB
    input_mb = int(torch.tensor(input_shape).prod()) * 4 / MB  # the input batch is held for backward too
    act_mb = activation_bytes_per_image(model, input_shape) / MB + input_mb
    total = (weights_mb + grads_and_state_mb + act_mb * batch_size) * OVERHEAD
    available = available_memory_mb(device)
    return MemoryEstimate(params=params, trainable=trainable, size_mb=round(weights_mb, 2),
                          activations_mb_per_image=round(act_mb, 3), total_mb=round(total, 1),
                          fits=None if available is None else total <= available,
                          available_mb=None if available is None else round(available, 1),
                          device=str(torch.device(device)), batch_size=batch_size)
