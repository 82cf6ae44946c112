"""How the Trainer runs on hardware, injected (in the style of Lightning Fabric's strategies): device
placement, model wrapping, the training loader's sampler, the loss every process agrees on, reductions over
processes and the agreement on requests (stop, pause, a checkpoint), so the loop itself has no branch for
one process or many: it asks the strategy.

One Trainer loop, two strategies: SingleProcess (CPU or one GPU) and DDP (torch.distributed with
DistributedDataParallel; gloo on CPU, nccl on CUDA).

--batch-size is the GLOBAL batch: each of the W processes takes a 1/W share of every global batch. The
global batches are the same seeded per-(seed, epoch) permutation as a single-process run (core.training.sampling),
so a run has the same steps per epoch at any world size, a checkpoint's position means the same samples at
any world size, and 2 processes x B/2 make the same optimizer steps as 1 process x B.
"""
from __future__ import annotations

import contextlib
import os
from datetime import timedelta

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from core.training.errors import TrainingError
from core.training.runtime import resolve_device
from core.data.order import loader_generator
from core.training.sampling import GlobalBatchShardSampler, global_batches

ENV_PG_TIMEOUT = "LAYERSCOPE_PG_TIMEOUT_S"  # how long a collective waits for a dead peer (tests shorten it)
DEFAULT_PG_TIMEOUT_S = 60.0
PAUSE_POLL_S = 0.05  # how often a paused single process looks at its requests (resume wakes it at once)
PAUSE_EXCHANGE_S = 0.5  # how often the processes of a paused multi-process run agree on (stop, pause)


class Strategy:
    """Single process: no wrapping, no reductions."""

    rank = 0
    local_rank = 0
    world_size = 1
    distributed = False
    _waiting = contextlib.nullcontext  # wraps each collective: the compute breakdown's sync time (time_collectives)

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._loader: DataLoader | None = None  # kept across epochs when its workers persist

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The module the training step calls (the unwrapped one stays the trainer's `model`)."""
        return model

    def time_collectives(self, timer) -> None:
        """Count the time spent in this strategy's collectives (agree, reductions) as `timer.syncing()` time: a
        process waiting there waits for the slowest of the others. (DDP's gradient all-reduce overlaps the
        backward pass, so it counts as compute.) One process has no collectives."""
        self._waiting = timer.syncing

    def gather_numbers(self, values: list[float]) -> list[list[float]]:
        """Every process's `values` (the same length on each), by rank; alone, [values]."""
        return [list(values)]

    def train_loader(self, dataset: Dataset, batch_size: int, *, seed: int, epoch: int, skip_batches: int,
                     num_workers: int, pin_memory: bool) -> DataLoader:
        # GPU runs keep their worker processes between epochs (persistent_workers); the sampler is moved on
        # to the next epoch's order in place (it runs in this process, so the workers need not know).
        persistent = num_workers > 0 and self.device.type == "cuda"
        cached = self._loader
        if persistent and cached is not None and cached.dataset is dataset and cached.batch_sampler.batch_size == batch_size:
            cached.batch_sampler.set_epoch(epoch, skip_batches)
            return cached
        sampler = GlobalBatchShardSampler(len(dataset), batch_size, seed, epoch, self.rank, self.world_size,
                                          skip_batches)
        loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=pin_memory,
                            persistent_workers=persistent,
                            generator=loader_generator(seed, epoch))
        self._loader = loader if persistent else None
        return loader

    def batches_per_epoch(self, size: int, batch_size: int) -> int:
        return global_batches(size, batch_size, self.world_size)

    def batch_loss(self, logits: torch.Tensor, targets: torch.Tensor, global_count: int) -> torch.Tensor:
        """The loss the backward pass takes: the batch mean."""
        return F.cross_entropy(logits, targets)

    def loss_total(self, loss: torch.Tensor, count: int, global_count: int) -> torch.Tensor:
        """This process's summed loss over its `count` samples, from batch_loss's value."""
        return loss * count

    def mean_over_processes(self, values: torch.Tensor) -> torch.Tensor:
        """batch_loss values as the global batch's mean losses (what a report shows)."""
        return values

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true when any process says so: one small exchange for all of them (alone, the flags)."""
        return flags

    def settled(self, agreed: tuple[bool, ...], steering) -> tuple[bool, bool, bool]:
        """The (stop, pause, checkpoint) to act on after a report: one process acts on what is asked now (a
        callback of the report may just have asked); see DDP for a group."""
        return steering.flags()

    def wait_while_paused(self, steering) -> None:
        """One wait of a paused process between looks at its requests."""
        steering.wait_resumed(PAUSE_POLL_S)

    def evaluate(self, model: nn.Module, dataset, batch_size: int) -> tuple[float, float]:
        """Mean loss and accuracy over `dataset`, each process taking a contiguous shard, reduced to the
        numbers a single-process evaluation gives; (nan, nan) for an empty set."""
        size = len(dataset)
        if size == 0:
            return float("nan"), float("nan")
        start, stop = size * self.rank // self.world_size, size * (self.rank + 1) // self.world_size
        shard = torch.utils.data.Subset(dataset, range(start, stop))
        was_training = model.training
        model.eval()
        sums = torch.zeros(2, device=self.device, dtype=torch.float64)  # loss sum, correct
        loader = DataLoader(shard, batch_size=batch_size, shuffle=False)
        with torch.inference_mode():
            for inputs, targets in loader:
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                logits = model(inputs).float()
                sums[0] += F.cross_entropy(logits, targets, reduction="sum").double()
                sums[1] += (logits.argmax(1) == targets).sum()
        model.train(was_training)
        sums = self.all_reduce_sum(sums.clone())
        loss_sum, correct = sums.tolist()
        return loss_sum / size, correct / size

    def teardown(self) -> None:
        pass


SingleProcess = Strategy


class DDP(Strategy):
    """One process of a torch.distributed group (started by torchrun or `layerscope train --nproc N`)."""

    distributed = True

    def __init__(self, device: str | torch.device = "auto", timeout_s: float | None = None):
        import torch.distributed as dist

        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.rank))
        use_cuda = str(device) != "cpu" and torch.cuda.is_available()
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise TrainingError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
        if use_cuda:
            torch.cuda.set_device(self.local_rank)
            super().__init__(torch.device("cuda", self.local_rank))
        else:
            super().__init__(torch.device("cpu"))
        if timeout_s is None:
            timeout_s = float(os.environ.get(ENV_PG_TIMEOUT, DEFAULT_PG_TIMEOUT_S))
        if not dist.is_initialized():
            # The timeout bounds how long a collective waits for a peer that died: no hang, a clear error.
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(seconds=timeout_s))
        self._dist = dist
        # Control flags (stop, report now) travel on a CPU (gloo) group: agreeing on them each step then
        # never waits for the GPU.
        self._control = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s)) if use_cuda else None

    def wrap_model(self, model: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        if self.world_size == 1:
            # One process has no gradients to average: as Hugging Face Accelerate does for a 1-process launch,
            # no DDP wrapper, whose autograd hooks cost ~0.5 ms a step on a small CPU model (~3%,
            # benchmarks/distributed.py); the run keeps the DDP run's files (rank status, launcher).
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # DDP's own cost per step, ~9% of a small CPU model's step at one process (benchmarks/distributed.py),
        # was mostly two things, both avoidable: copying gradients into and out of the all-reduce buckets
        # (gradient_as_bucket_view: the gradients are views into them) and broadcasting every buffer from
        # rank 0 before every forward. Buffers (batch norm's running statistics) are not used by a training
        # forward; they are broadcast once before each evaluation instead (sync_buffers), so every process
        # evaluates with rank 0's, the ones its checkpoints hold.
        return DistributedDataParallel(model, device_ids=ids, gradient_as_bucket_view=True, broadcast_buffers=False)

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers on every process (DDP's constructor did this once; evaluation does it again)."""
        if self.world_size == 1:
            return
        for buffer in model.buffers():
            self._dist.broadcast(buffer, src=0)

    def evaluate(self, model: nn.Module, dataset, batch_size: int) -> tuple[float, float]:
        self.sync_buffers(model)
        return super().evaluate(model, dataset, batch_size)

    def batch_loss(self, logits: torch.Tensor, targets: torch.Tensor, global_count: int) -> torch.Tensor:
        # DDP averages gradients over processes: this makes it the global batch mean.
        scale = loss_scale(targets.shape[0], global_count, self.world_size)
        return F.cross_entropy(logits.float(), targets, reduction="sum") * scale

    def loss_total(self, loss: torch.Tensor, count: int, global_count: int) -> torch.Tensor:
        return loss * (global_count / self.world_size)

    def mean_over_processes(self, values: torch.Tensor) -> torch.Tensor:
        return self.all_reduce_sum(values) / self.world_size

    def settled(self, agreed: tuple[bool, ...], steering) -> tuple[bool, bool, bool]:
        """Only what every process agreed on before the report: a request made since goes into the next
        exchange, or the processes would act at different steps."""
        return agreed

    def wait_while_paused(self, steering) -> None:
        """The processes exchange (stop, pause) about every PAUSE_EXCHANGE_S, so no collective blocks for the
        whole pause (it would trip the process-group timeout); a stop (SIGINT) still wakes the wait at once."""
        steering.wait_stopped(PAUSE_EXCHANGE_S)

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:  # alone, the sum is the tensor (and a collective a step costs ~70 us)
            with self._waiting():
                self._dist.all_reduce(tensor, op=self._dist.ReduceOp.SUM)
        return tensor

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        if self.world_size == 1:
            return tuple(bool(f) for f in flags)
        t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32)
        with self._waiting():
            self._dist.all_reduce(t, op=self._dist.ReduceOp.MAX, group=self._control)
        return tuple(bool(v) for v in t.tolist())

    def gather_numbers(self, values: list[float]) -> list[list[float]]:
        if self.world_size == 1:
            return [list(values)]
        mine = torch.tensor(values, dtype=torch.float64)  # on the CPU: the gloo group carries it
        every = [torch.empty_like(mine) for _ in range(self.world_size)]
        self._dist.all_gather(every, mine, group=self._control)
        return [t.tolist() for t in every]

    def teardown(self) -> None:
        if self._dist.is_initialized():
            self._dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    """torchrun (and `layerscope train --nproc`) set these for every process it starts."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")) and int(os.environ["WORLD_SIZE"]) >= 1


def strategy_for(device: str = "auto") -> Strategy:
    """DDP when this process was started by torchrun, else a single process on `device`."""
    if launched_by_torchrun():
        return DDP(device)
    return Strategy(resolve_device(device))


def loss_scale(local_count: int, global_count: int, world_size: int) -> float:
    """DDP averages gradients over processes; scaling each process's summed loss by W / global count makes
    that average the mean over the whole global batch, even when the shards differ in size."""
    return world_size / max(global_count, 1) if local_count else 0.0


