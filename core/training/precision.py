"""One-GPU speed options, chosen once per run: mixed precision (bf16 where the GPU supports it, else fp16
with a GradScaler), channels_last for conv nets, non_blocking copies and optional torch.compile.

On the CPU every option is off (they would only slow it down or change the numbers), except torch.compile
when asked for explicitly."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class SpeedOptions:
    amp_dtype: torch.dtype | None = None
    scaler: object | None = None  # torch.amp.GradScaler for fp16
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def for_run(cls, config, device: torch.device, model: nn.Module) -> "SpeedOptions":
        cuda = device.type == "cuda"
        amp_dtype = None
        if cuda and getattr(config, "amp", True):
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
        has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
        return cls(amp_dtype, scaler, channels_last=cuda and has_conv, compile=bool(getattr(config, "compile", False)))

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def place(self, model: nn.Module, device: torch.device) -> nn.Module:
        return model.to(device, memory_format=self.memory_format) if self.channels_last else model.to(device)

    def compiled(self, model: nn.Module) -> nn.Module:
        return torch.compile(model) if self.compile else model

    def inputs(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        batch = batch.to(device, non_blocking=True)  # pinned memory makes this asynchronous on CUDA
        if self.channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def autocast(self, device: torch.device):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.amp_dtype)

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)  # skips the step when fp16 gradients overflowed
        self.scaler.update()
