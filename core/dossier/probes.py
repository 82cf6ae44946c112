"""Probe timelines: pinned images followed through a run. At the start, at a few points of the first epoch
(where most changes) and after every epoch, each probe's prediction, top-k probabilities, every class's
probability (up to ALL_PROBS_CLASSES classes), the probability of its true class when its folder names one,
each layer's activation statistics and a small saliency map are appended as one line of
RUN/probes/timeline.jsonl (the saliency map as 32x32 uint8, base64). Reading them back, and the true class a
user names for a probe without one, is core/dossier/probe_reading.py (torch-free).

Size bound: at most MAX_PROBES probes; each snapshot is one line of about (1.4 KB + 50 B per layer + 8 B per
class) per probe; after MAX_SNAPSHOTS snapshots only every second epoch is kept, then every fourth, and so on.
"""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from core.errors import describe_failure
from core.io.atomic import append_lines, write_text_atomic
from core.dossier.probe_reading import MAX_PROBES, SALIENCY_PX, read_probes  # noqa: F401  (read_probes: its home)
from core.runs.layout import PROBES_INDEX, PROBES_TIMELINE, RunLayout
from core.training.callbacks import Callback, EpochMetrics, FitStart, RunView

MAX_SNAPSHOTS = 200
ALL_PROBS_CLASSES = 100  # up to this many classes a snapshot keeps every class's probability
FIRST_EPOCH_POINTS = (0.125, 0.25, 0.5)  # fractions of epoch 1 with a snapshot
STAT_KEYS = ("mean", "std", "zeros_fraction", "dead_fraction")


def _true_label(path: Path, classes: list[str]) -> int | None:
    """The class named by the image's folder (class-folder layout), else None."""
    return classes.index(path.parent.name) if path.parent.name in classes else None


def probe_snapshot(model, inputs: torch.Tensor, labels: list[int | None], classes: list[str], top_k: int = 3) -> list[dict]:
    """What the model makes of each probe now: one dict per probe (plain numbers, saliency as base64)."""
    from core.inspect.activations import forward_with_activations
    from core.inspect.saliency import saliency_map
    from core.inspect.stats import layer_stats

    out = []
    for i, label in enumerate(labels):
        x = inputs[i:i + 1]
        logits, acts = forward_with_activations(model, x)
        probs = torch.softmax(logits.float(), dim=1)[0].cpu()
        top = torch.topk(probs, min(top_k, probs.numel()))
        predicted = int(top.indices[0])
        heat = saliency_map(model, x, label if label is not None else predicted)
        small = F.interpolate(torch.from_numpy(heat)[None, None], size=(SALIENCY_PX, SALIENCY_PX), mode="area")
        small = (small[0, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        stats = {}
        for name, a in acts.items():
            s = layer_stats(a.float())
            stats[name] = {k: round(float(s[k]), 6) for k in STAT_KEYS}
        out.append({"predicted": classes[predicted] if predicted < len(classes) else predicted,
                    "top": [[classes[int(c)] if int(c) < len(classes) else int(c), float(p)]
                            for p, c in zip(top.values, top.indices)],
                    "probs": ([round(float(p), 5) for p in probs] if probs.numel() <= ALL_PROBS_CLASSES else None),
                    "true_prob": float(probs[label]) if label is not None else None,
                    "layers": stats, "saliency": base64.b64encode(small.tobytes()).decode("ascii")})
    return out


class ProbeTimeline(Callback):
    """A failure is kept in `error` and turns the probes off; it never ends the run."""

    def __init__(self, run_dir: str | Path, images: list[str], top_k: int = 3):
        self.run_dir = Path(run_dir)
        self.folder = RunLayout(run_dir).probes
        self.paths = [Path(p) for p in images][:MAX_PROBES]
        self.top_k = top_k
        self.skipped: list[tuple[str, str]] = []
        self.error: str | None = None
        self.snapshots = 0
        self._inputs: torch.Tensor | None = None
        self._labels: list[int | None] = []
        self._files: list[str] = []
        self._first_epoch_steps: set[int] = set()
        self._epoch_stride = 1
        self._batches = 1
        self.on_warning = None  # optional callable(message): the CLI prints why the probes were turned off

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        from core.data.pipeline import model_input
        from core.io.images import ImageLoadError

        tensors = []
        for path in self.paths:
            try:
                tensors.append(model_input(path, run.data.preprocess))
            except (ImageLoadError, OSError) as exc:
                self.skipped.append((str(path), str(exc)))
                continue
            self._files.append(str(path))
            self._labels.append(_true_label(path, list(run.data.classes)))
        try:  # never through a link: probes/ or probes.json planted as one is refused (core.io.atomic)
            write_text_atomic(self.folder / PROBES_INDEX, json.dumps({
                "version": 1, "files": self._files, "labels": self._labels, "classes": list(run.data.classes),
                "saliency_px": SALIENCY_PX, "skipped": [{"file": f, "reason": r} for f, r in self.skipped]}, indent=1),
                inside=self.run_dir)
        except OSError as exc:  # probes are a bonus: never end a run over them
            self._turn_off(exc)
            return
        if not tensors:
            return
        self._inputs = torch.stack(tensors).to(run.device)
        if start.start_epoch == 0:
            batches = self._batches = start.batches_per_epoch
            self._first_epoch_steps = {max(1, round(batches * f)) for f in FIRST_EPOCH_POINTS} - {batches}
            if start.step == 0:
                self._snapshot(run, 0.0)

    def on_train_step(self, run: RunView) -> None:
        if run.epoch == 0 and run.step in self._first_epoch_steps:
            self._snapshot(run, run.step / self._batches)

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        if run.epoch % self._epoch_stride == 0:
            self._snapshot(run, float(run.epoch))

    def _snapshot(self, run: RunView, epoch_position: float) -> None:
        if self._inputs is None or self.error is not None:
            return
        try:
            probes = probe_snapshot(run.model, self._inputs, self._labels, list(run.data.classes), self.top_k)
            line = {"kind": "probe_snapshot", "version": 1, "step": run.step, "epoch": epoch_position,
                    "time": time.time(), "probes": probes}
            append_lines(self.folder / PROBES_TIMELINE, [json.dumps(line)], inside=self.run_dir)
            self.snapshots += 1
            if self.snapshots >= MAX_SNAPSHOTS * self._epoch_stride:
                self._epoch_stride *= 2
        except Exception as exc:  # probes are a bonus: never end a run over them
            self._turn_off(exc)

    def _turn_off(self, exc: Exception) -> None:
        self.error = f"probe timeline turned off: {describe_failure(exc) or exc}"
        if self.on_warning is not None:
            self.on_warning(self.error)

