"""Distributed and one-GPU training speed through Layerscope's engine (core.training.trainer.Trainer + core.training.strategy).

CPU (always): the same global batch trained by
  - a bare loop (model, Adam, DataLoader, cross-entropy: no engine),
  - the engine with the single-process strategy ("plain"),
  - the engine with the DDP strategy at 1 process (gloo): `ddp1_vs_plain_ratio` is its overhead. The two
    run in this same process, alternating, --rounds times;
    the ratio is of the median step times over every step of every round (`ddp1_vs_plain_epoch_ratios`: the
    rounds' epoch throughput ratios, which swing 0.83-1.12 on a shared 2-core machine),
  - the engine with DDP at 2 processes (gloo), `ddp2_vs_1proc_ratio` against the 1-process engine run
    (on a 2-core machine shared with other work, do not expect 2x).
GPU (only when CUDA is present): `gpu_ratio` = the engine (AMP, channels_last, pinned memory) against a bare
AMP loop on the same model and data; images/s of resnet18 and resnet50 at 224 px.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/distributed.py [--images 2048] [--batch 32] [--epochs 2] [--rounds 5]

Throughput counts training images only, over the last epoch (the first one warms up). The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from core.training.callbacks import Callback  # noqa: E402
from core.models import ModelSpec, build_model  # noqa: E402
from core.training.strategy import DDP, Strategy  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402


def synthetic(images: int, size: int, classes: int = 10, seed: int = 0) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(images, 3, size, size, generator=g)
    y = torch.randint(0, classes, (images,), generator=g)
    val = TensorDataset(x[:32], y[:32])
    return SimpleNamespace(train=TensorDataset(x, y), val=val, classes=[str(i) for i in range(classes)],
                           spec=None, preprocess=None)


class _LastEpochSpeed(Callback):
    def __init__(self):
        self.images_per_sec = 0.0
        self.step_s: list[float] = []  # the last epoch's step-to-step times
        self._epoch_steps: list[float] = []
        self._last: float | None = None

    def on_train_step(self, run) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self._epoch_steps.append(now - self._last)
        self._last = now

    def on_epoch_end(self, run, metrics) -> None:
        self.images_per_sec = metrics.images_per_sec  # training images of the epoch over its training time
        self.step_s, self._epoch_steps, self._last = self._epoch_steps, [], None  # validation is not a step


STEP_TIMES: dict[str, list[float]] = {"plain": [], "ddp1": []}  # every step time of every round, by path


def engine_speed(model_name: str, data, batch: int, epochs: int, strategy: Strategy | None, device: str = "cpu",
                 size: int = 32, amp: bool = True, steps_to: list | None = None) -> float:
    torch.manual_seed(0)
    spec = ModelSpec(model_name, len(data.classes), 3, size, {})
    speed = _LastEpochSpeed()
    config = TrainConfig(epochs=epochs, batch_size=batch, device=device, evaluate_at_end=False, amp=amp,
                         schedule="none", num_workers=0)
    Trainer(build_model(spec, load_weights=False), data, config, spec, [speed], strategy=strategy).fit()
    if steps_to is not None:
        steps_to.extend(speed.step_s)
    return speed.images_per_sec


def bare_speed(model_name: str, data, batch: int, epochs: int, device: str = "cpu", size: int = 32,
               amp: bool = False) -> float:
    """The loop a person would write by hand (AMP + channels_last on CUDA)."""
    torch.manual_seed(0)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    model = build_model(ModelSpec(model_name, len(data.classes), 3, size, {}), load_weights=False).to(dev)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp and dtype == torch.float16)
    loader = DataLoader(data.train, batch_size=batch, shuffle=True, pin_memory=cuda)
    rate = 0.0
    for _ in range(epochs):
        start, seen = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=dtype, enabled=cuda and amp):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            seen += y.shape[0]
        if cuda:
            torch.cuda.synchronize()
        rate = seen / (time.perf_counter() - start)
    return rate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, args, out) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    strategy = DDP("cpu")
    try:
        rate = engine_speed(args.model, synthetic(args.images, args.size), args.batch, args.epochs, strategy)
    finally:
        strategy.teardown()
    if rank == 0:
        out.put(rate)


def ddp1_in_process_speed(args, data) -> float:
    """The DDP strategy at world size 1 in this process (a fresh process group each time)."""
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    strategy = DDP("cpu")
    try:
        return engine_speed(args.model, data, args.batch, args.epochs, strategy, steps_to=STEP_TIMES["ddp1"])
    finally:
        strategy.teardown()
        for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            os.environ.pop(key, None)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def ddp_speed(world: int, args) -> float:
    import torch.multiprocessing as mp

    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_ddp_worker, args=(world, _free_port(), args, queue), nprocs=world, join=True)
    return queue.get()


def gpu_section(args) -> dict:
    if not torch.cuda.is_available():
        return {"gpu": None}
    out: dict = {"gpu": torch.cuda.get_device_name(0)}
    data = synthetic(args.gpu_images, 224, classes=100)
    bare = bare_speed("resnet18", data, args.gpu_batch, 2, "cuda", 224, amp=True)
    engine = engine_speed("resnet18", data, args.gpu_batch, 2, None, "cuda", 224)
    out.update(resnet18_bare_amp_ips=bare, resnet18_ips=engine, gpu_ratio=engine / bare)
    out["resnet50_ips"] = engine_speed("resnet50", data, args.gpu_batch, 2, None, "cuda", 224)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32, help="the global batch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--gpu-images", type=int, default=2048)
    parser.add_argument("--gpu-batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5, help="plain / DDP-at-1-process pairs, alternating")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result: dict = {}
    if not args.skip_cpu:
        data = synthetic(args.images, args.size)
        result["cpu_bare_ips"] = bare_speed(args.model, data, args.batch, args.epochs)
        plain, ddp1 = [], []
        for _ in range(max(1, args.rounds)):  # alternating, so a busy spell on the machine hits both alike
            plain.append(engine_speed(args.model, data, args.batch, args.epochs, Strategy(torch.device("cpu")),
                                      steps_to=STEP_TIMES["plain"]))
            ddp1.append(ddp1_in_process_speed(args, data))
        result["cpu_plain_ips"], result["cpu_ddp1_ips"] = median(plain), median(ddp1)
        result["cpu_ddp2_ips"] = ddp_speed(2, args)
        # The overhead as the median step time of every step of every round: a busy spell on the shared
        # machine slows some steps, and moves a median of hundreds of them far less than an epoch's mean.
        result["plain_step_ms"] = median(STEP_TIMES["plain"]) * 1000
        result["ddp1_step_ms"] = median(STEP_TIMES["ddp1"]) * 1000
        result["ddp1_vs_plain_ratio"] = result["plain_step_ms"] / result["ddp1_step_ms"]
        result["ddp1_vs_plain_epoch_ratios"] = f"{min(d / p for d, p in zip(ddp1, plain)):.3f}-" \
                                               f"{max(d / p for d, p in zip(ddp1, plain)):.3f}"
        result["ddp2_vs_1proc_ratio"] = result["cpu_ddp2_ips"] / result["cpu_plain_ips"]
        result["plain_vs_bare_ratio"] = result["cpu_plain_ips"] / result["cpu_bare_ips"]
    result.update(gpu_section(args))
    print(f"{'measure':28s} value")
    for key, value in result.items():
        print(f"{key:28s} {value:.3f}" if isinstance(value, float) else f"{key:28s} {value}")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))


if __name__ == "__main__":
    main()
