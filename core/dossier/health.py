"""Layer health while training: every N steps, per layer, weight and gradient norms, the update-to-weight
ratio, the share of dead (never firing) units and histograms of weights, gradients and activations, as one
line of RUN/layer_health.jsonl; warnings (health_checks) go to the same file and to `warnings`.

How a sample is taken without touching the loop: at the step before a sample step, the parameters are
copied (on their device) and activation hooks armed; at the sample step, after optimizer.step(), the
gradients are still there, so norms, the update (weights now - copy) and the captured activations are
reduced on the device and read back in one host copy. Between samples no hook is attached at all.

Size bound: one line per sample, per layer a few numbers + 3 histograms of BINS counts. After MAX_SAMPLES
lines the interval doubles (and again after each further MAX_SAMPLES / 2), so a long run's file grows with
the log of its steps, not linearly.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn

from core.training.callbacks import Callback, FitStart, FitSummary, RunView
from core.dossier.health_checks import HealthWarnings
from core.errors import describe_failure
from core.io.atomic import append_lines
from core.io.small_files import ListOf, MapOf, Obj, SmallFileError, check, parse_json, read_bytes
from core.runs.layout import RunLayout
from core.models.hooks import Hooks

DEFAULT_EVERY = 50
BINS = 24
MAX_SAMPLES = 400
ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh, nn.Sigmoid)
DEAD_TYPES = (nn.ReLU, nn.ReLU6)  # outputs exactly zero when a unit does not fire


def parameter_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Modules that own trainable parameters directly (conv, linear, norm layers), in definition order."""
    return {n: m for n, m in model.named_modules()
            if n and any(p.requires_grad for p in m.parameters(recurse=False))}


def _histogram(t: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(lo, hi, counts[bins]) over the finite values, all on t's device (no host read until the sample ends)."""
    t = t.detach().float().flatten()
    t = t[torch.isfinite(t)]
    if t.numel() == 0:
        zero = torch.zeros((), device=t.device)
        return zero, zero, torch.zeros(bins, device=t.device, dtype=torch.long)
    lo, hi = t.min(), t.max()
    index = ((t - lo) / (hi - lo).clamp(min=1e-12) * bins).long().clamp_(0, bins - 1)
    return lo, hi, torch.bincount(index, minlength=bins)


class LayerHealth(Callback):
    def __init__(self, run_dir: str | Path | None, every: int = DEFAULT_EVERY, bins: int = BINS,
                 max_samples: int = MAX_SAMPLES):
        if every < 1:
            raise ValueError(f"layer health needs a sampling interval of at least 1 step (got {every})")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.path = RunLayout(run_dir).layer_health if run_dir is not None else None
        self.every, self.bins = int(every), int(bins)
        self.max_samples, self.samples = int(max_samples), 0
        self.checks = HealthWarnings()
        self.warnings: list[dict] = []
        self.on_warning = None  # optional callable(message): e.g. the CLI prints warnings as they come
        self.records: list[dict] = []  # the last few samples, for a caller without a run folder
        self.error: str | None = None
        self._armed = False
        self._before: dict[str, list[torch.Tensor]] = {}
        self._activations: dict[str, dict] = {}
        self._hooks: Hooks | None = None
        self._dead_checked: set[str] = set()  # layers whose outputs are exactly zero when a unit does not fire
        self._layers: dict[str, nn.Module] = {}
        self._order: list[str] = []

    # ---- the two-step sample -------------------------------------------------------------------------
    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        self._layers = parameter_layers(run.model)
        self._order = [n for n, _ in run.model.named_modules()]

    def on_train_step(self, run: RunView) -> None:
        if self.error is not None:
            return
        step = run.step
        try:
            if self._armed and step % self.every == 0:
                self._sample(run)
            if (step + 1) % self.every == 0:
                self._arm(run)
        except Exception as exc:  # health is a bonus: never end a run over it
            self._disarm()
            self.error = f"layer health sampling turned off: {describe_failure(exc) or exc}"
            if self.on_warning is not None:
                self.on_warning(self.error)

    def _arm(self, run: RunView) -> None:
        self._disarm()
        self._before = {n: [p.detach().clone() for p in m.parameters(recurse=False) if p.requires_grad]
                        for n, m in self._layers.items()}
        if getattr(getattr(run, "config", None), "compile", False):
            self._armed = True  # hooks would make torch.compile recompile: weights and gradients only
            return
        watched = {name: module for name, module in run.model.named_modules()
                   if name and (name in self._layers or isinstance(module, ACTIVATION_TYPES))}
        self._dead_checked = {name for name, module in watched.items() if isinstance(module, DEAD_TYPES)}
        self._hooks = Hooks(watched, self._capture)
        self._armed = True

    def _capture(self, name: str, _inputs, output) -> None:
        if torch.is_inference_mode_enabled() or not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
            return  # a validation pass, not the training step being sampled
        out = output.detach()
        entry = {"hist": _histogram(out, self.bins)}
        if name in self._dead_checked and out.dim() >= 2:
            alive = (out > 0).transpose(0, 1).reshape(out.shape[1], -1).any(dim=1)
            entry["dead"] = 1.0 - alive.float().mean()
        self._activations[name] = entry

    def _disarm(self) -> None:
        if self._hooks is not None:
            self._hooks.remove()
            self._hooks = None
        self._armed = False

    def _sample(self, run: RunView) -> None:
        self._disarm()
        layers: dict[str, dict] = {}
        for name, module in self._layers.items():
            params = [p for p in module.parameters(recurse=False) if p.requires_grad]
            before = self._before.get(name)
            if not params or before is None or len(before) != len(params):
                continue
            weights = torch.cat([p.detach().flatten().float() for p in params])
            grads = [p.grad for p in params if p.grad is not None]
            w_norm = weights.norm()
            entry: dict = {"weight_norm": w_norm,
                           "update_ratio": torch.cat([(p.detach().float() - b.float()).flatten()
                                                      for p, b in zip(params, before)]).norm() / w_norm.clamp(min=1e-12),
                           "weight_hist": _histogram(weights, self.bins)}
            if grads:
                g = torch.cat([x.detach().flatten().float() for x in grads])
                entry["grad_norm"] = g.norm()
                entry["grad_hist"] = _histogram(g, self.bins)
            layers[name] = entry
        for name, act in self._activations.items():
            entry = layers.setdefault(name, {})
            entry["activation_hist"] = act["hist"]
            if "dead" in act:
                entry["dead_share"] = act["dead"]
        self._before, self._activations = {}, {}
        order = {n: i for i, n in enumerate(self._order)}  # definition order: a conv, its norm, its ReLU, ...
        layers = dict(sorted(layers.items(), key=lambda item: order.get(item[0], len(order))))
        record = {"kind": "layer_health", "version": 1, "step": run.step, "epoch": run.epoch + 1,
                  "time": time.time(), "every": self.every, "layers": _to_host(layers)}
        self._write(record)
        for warning in self.checks.feed(record["layers"]):
            warning = {"kind": "layer_health_warning", "version": 1, "step": run.step, **warning}
            self.warnings.append(warning)
            self._write(warning)
            if self.on_warning is not None:
                self.on_warning(f"layer health, step {run.step}: {warning['message']}")
        self.samples += 1
        if self.samples >= self.max_samples:  # keep the file bounded: sample half as often from now on
            self.every *= 2
            self.max_samples += max(1, self.max_samples // 2)

    def _write(self, record: dict) -> None:
        self.records = (self.records + [record])[-50:]
        if self.path is None:
            return
        # Only to a plain file of this run's folder, never through a link (core.io.atomic): a failure turns
        # the sampling off (on_train_step), never the run.
        append_lines(self.path, [json.dumps(record, allow_nan=False)], inside=self.run_dir)

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._disarm()

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        self._disarm()

    def on_error(self, run: RunView, error: BaseException) -> None:
        self._disarm()


def _to_host(layers: dict[str, dict]) -> dict[str, dict]:
    """Two device->host copies (all scalars, all histogram counts), then JSON-safe dicts (NaN/inf -> None)."""
    scalars, hists = [], []
    for n, e in layers.items():
        for k, v in e.items():
            if isinstance(v, tuple):
                hists.append((n, k))
                scalars += [((n, k, "lo"), v[0]), ((n, k, "hi"), v[1])]
            elif isinstance(v, torch.Tensor):
                scalars.append(((n, k), v))
    values = torch.stack([v.float().reshape(()) for _, v in scalars]).cpu().tolist() if scalars else []
    counts = torch.stack([layers[n][k][2] for n, k in hists]).cpu().tolist() if hists else []
    out: dict[str, dict] = {n: {} for n in layers}
    for (key, _), v in zip(scalars, values):
        v = v if math.isfinite(v) else None
        if len(key) == 2:
            out[key[0]][key[1]] = v
        else:
            out[key[0]].setdefault(key[1], {})[key[2]] = v
    for (n, k), c in zip(hists, counts):
        out[n][k]["counts"] = [int(x) for x in c]
    return out


MAX_FILE_BYTES = 256 << 20  # MAX_SAMPLES lines and a few doublings of a few KB each: far below this
_NUMBER = (float, type(None))
_HIST = Obj(required={"counts": ListOf(int, 4096)}, optional={"lo": _NUMBER, "hi": _NUMBER})
_LAYER = Obj(optional={"weight_norm": _NUMBER, "grad_norm": _NUMBER, "update_ratio": _NUMBER, "dead_share": _NUMBER,
                       "weight_hist": _HIST, "grad_hist": _HIST, "activation_hist": _HIST})
SAMPLE_SCHEMA = Obj(required={"step": int, "layers": MapOf(_LAYER, 100_000)},
                    optional={"epoch": int, "every": int, "time": float})
WARNING_SCHEMA = Obj(required={"step": int, "message": str}, optional={"layer": str, "problem": str})


def read_health(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(samples, warnings) from RUN/layer_health.jsonl; a missing file gives two empty lists, a torn last
    line (the run is writing) or a line that is not what a run writes is skipped. The run folder may be
    shared: the file goes through the small-file reader (SmallFileError naming it for a FIFO, a device, a
    file above MAX_FILE_BYTES), each line is checked against a schema, and every histogram has the same
    number of bins (the view stacks them)."""
    path = RunLayout(run_dir).layer_health
    try:
        data = read_bytes(path, max_bytes=MAX_FILE_BYTES)
    except SmallFileError as exc:
        if exc.kind == "missing":
            return [], []
        raise
    samples, warnings, bins = [], [], None
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = parse_json(line, path, nonfinite="null", schema=Obj(required={"kind": str}))
            if record["kind"] == "layer_health_warning":
                check(record, WARNING_SCHEMA, path)
                warnings.append(record)
                continue
            check(record, SAMPLE_SCHEMA, path)
        except SmallFileError:
            continue
        sizes = {len(h["counts"]) for layer in record["layers"].values() for h in layer.values() if isinstance(h, dict)}
        if len(sizes) > 1 or (bins is not None and sizes and sizes != {bins}):
            continue  # histograms of another number of bins: the view could not stack them
        bins = next(iter(sizes)) if sizes else bins
        samples.append(record)
    return samples, warnings
