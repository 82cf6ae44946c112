"""Put a model and its optimizer back exactly as they were after a pass that trains them (the range test).

Both state_dict()s hand out references to the live tensors, which the optimizer then updates in place, so the
snapshot clones every tensor (to the CPU: a big model's copy should not double its GPU memory; load_state_dict
moves it back, with the same dtype, so the values are bit-identical). The random number generators are part of
the snapshot too: a range test must not change which batches and dropout masks the training that follows draws.
"""
from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def cpu_copy(value):
    """A deep copy of nested dicts / lists / tuples whose tensors are cloned to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: cpu_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cpu_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(cpu_copy(v) for v in value)
    return value


@contextlib.contextmanager
def restored(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler=None):
    """On leaving (normally or not): weights, buffers, optimizer state and hyperparameters, train/eval mode,
    the fp16 grad scaler and the RNG states are those of entering."""
    weights = cpu_copy(model.state_dict())
    optimizer_state = cpu_copy(optimizer.state_dict())
    scaler_state = cpu_copy(scaler.state_dict()) if scaler is not None else None
    training = model.training
    rng = _rng_states()
    try:
        yield
    finally:
        model.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
        if scaler is not None:
            scaler.load_state_dict(scaler_state)
        model.train(training)
        _set_rng_states(rng)


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])
