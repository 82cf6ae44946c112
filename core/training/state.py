"""Where a run is, as one typed value: epochs and steps done, the epoch history and the position inside the
epoch in progress, saved and restored as one mapping (a checkpoint's training_state).

A mid-epoch stop (or periodic checkpoint) resumes exactly: the epoch's order depends only on (seed, epoch)
(core.data.order), the loader starts after the batches already done, and the torch RNG state saved after the
last done batch makes dropout and augmentation draw the same, so a resumed run makes the same steps with the
same losses as one never stopped (exactly so with num_workers=0; with worker processes the order is the same
but augmentation draws may differ).

The mapping's keys are the checkpoint format's (core.checkpoints.schema checks them): "epoch", "step",
"history", "position" (the epoch in progress: epoch, batch, step, loss_sum, correct, seen, rng) and "rng"
(torch's and Python's generators) from here; the trainer adds its optimizer's, schedule's and loss scaler's
state, the config and the data spec.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from core.training.callbacks import EpochMetrics

MT_STATE_WORDS = 625  # Python's Mersenne Twister: 624 words + its index


@dataclass(slots=True)
class TrainingState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    history: list[EpochMetrics] = field(default_factory=list)
    # The epoch in progress (batch 0: between epochs). While it trains, the sums are this process's, on the
    # device; when saved, the sums over all processes.
    batch: int = 0  # its batches done
    loss_sum: float | torch.Tensor = 0.0  # its summed training loss, right answers and images
    correct: int | torch.Tensor = 0
    seen: int = 0
    rng: torch.Tensor | None = None  # torch's RNG state to go on from at `batch` (a resume; used once)

    def end_epoch(self, metrics: EpochMetrics) -> None:
        self.epoch += 1
        self.history.append(metrics)
        self.batch, self.loss_sum, self.correct, self.seen = 0, 0.0, 0, 0

    def to_mapping(self, seed: int) -> dict:
        """This state as the checkpoint's mapping; the RNGs as they are now (after the last done batch)."""
        rng = torch.get_rng_state()
        position = None
        if self.batch:
            position = {"epoch": self.epoch, "batch": self.batch, "step": self.step,
                        "loss_sum": float(self.loss_sum), "correct": int(self.correct), "seen": int(self.seen),
                        "rng": rng}
        return {"epoch": self.epoch, "step": self.step, "history": [m.to_dict() for m in self.history],
                "position": position,
                "rng": {"torch": rng, "python": list(random.getstate()[1]), "numpy_seed_hint": int(seed)}}

    @classmethod
    def from_mapping(cls, mapping: dict) -> TrainingState:
        """The state a checkpoint saved. A missing, malformed or stale position (not at this epoch and step)
        is dropped: the epoch is then replayed from its start."""
        state = cls(epoch=int(mapping["epoch"]), step=int(mapping["step"]),
                    history=[EpochMetrics(**m) for m in mapping.get("history", [])])
        position = _position(mapping.get("position"))
        if position is not None and position["epoch"] == state.epoch and position["step"] == state.step:
            state.batch, state.loss_sum, state.correct, state.seen, state.rng = (
                position["batch"], position["loss_sum"], position["correct"], position["seen"], position["rng"])
        return state


def _position(saved) -> dict | None:
    if not isinstance(saved, dict):
        return None
    try:
        position = {"epoch": int(saved["epoch"]), "batch": int(saved["batch"]), "step": int(saved["step"]),
                    "loss_sum": float(saved["loss_sum"]), "correct": int(saved["correct"]),
                    "seen": int(saved["seen"]), "rng": saved["rng"]}
    except (KeyError, TypeError, ValueError):
        return None
    rng = position["rng"]
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or position["batch"] < 0:
        return None
    return position


def restore_rng(mapping: dict) -> None:
    """torch's and Python's generators as a checkpoint saved them (each left alone when missing or malformed)."""
    rng = mapping.get("rng") or {}
    if isinstance(rng.get("torch"), torch.Tensor):
        torch.set_rng_state(rng["torch"])
    python_state = rng.get("python")
    if isinstance(python_state, (list, tuple)) and len(python_state) == MT_STATE_WORDS:
        random.setstate((3, tuple(int(v) for v in python_state), None))
