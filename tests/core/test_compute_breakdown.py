"""Where the processing power goes: a real training loop on shapes, timed by StepTimer, diagnosed in words; and
the Trainer's own runs, whose records carry the breakdown ("compute" records, docs/records.md)."""
import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from core.compute.monitor import ComputeMonitor
from core.compute.resources import ResourceSampler
from core.compute.timer import StepTimer
from core.compute.verdict import LoaderSetup, verdict, verdicts_by_process
from core.data import DataSpec, build_data, make_loader
from core.models import ModelSpec, build_model
from core.runs.directory import RunDirectory
from core.runs.records import decode
from core.training.config import TrainConfig
from core.training.recorder import RunRecorder
from core.training.trainer import Trainer


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a crowded shared machine two threads fight each other and make compute times
    swing tenfold; the shares these tests check are about the loop, not about OpenMP."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class SlowImages(Dataset):
    """The shapes training set, but every image takes `delay_s` to 'decode' (a slow disk or a heavy JPEG)."""

    def __init__(self, base, delay_s):
        self.base, self.delay_s = base, delay_s

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        time.sleep(self.delay_s)
        return self.base[i]


def _train(loader, monitor: ComputeMonitor, model, epochs=1) -> dict:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for inputs, targets in monitor.timer.batches(loader):
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            monitor.timer.step_done()
    return monitor.payload()


def _data_and_model(size=16, channels=8):
    data = build_data(DataSpec(name="shapes", train_count=96, val_count=20, image_size=size, seed=3))
    torch.manual_seed(0)
    model = build_model(ModelSpec("cnn", 5, 3, size, {"channels": channels, "blocks": 2}))
    return data, model


def test_a_slow_loader_is_diagnosed_data_bound():
    data, model = _data_and_model()
    loader = make_loader(SlowImages(data.train, 0.01), 16, shuffle=True)  # 160 ms of waiting per batch
    setup = LoaderSetup(num_workers=0, cpu_count=8, folder_dataset=True, cache_on=False)
    payload = _train(loader, ComputeMonitor(None, setup, interval_s=0.0), model)
    assert payload["steps"] == 6
    assert payload["data_share"] > 0.5, payload
    assert payload["verdict_kind"] == "data-bound", payload["verdict"]
    assert payload["verdict"].startswith("data-bound: ")
    assert "raise workers to 4" in payload["verdict"] and "decode cache" in payload["verdict"]


def test_an_instant_loader_is_diagnosed_compute_bound():
    data, model = _data_and_model(size=32, channels=32)
    loader = make_loader(data.train, 16, shuffle=True)
    batches = list(loader)  # already in memory and collated: taking the next batch costs nothing
    payload = _train(batches, ComputeMonitor(None, LoaderSetup(cpu_count=8), interval_s=0.0), model, epochs=2)
    assert payload["steps"] == 12
    assert payload["compute_share"] > 0.7 and payload["data_share"] < 0.1, payload
    assert payload["verdict_kind"] == "compute-bound", payload["verdict"]
    # The shares describe the same wall time: together they are the whole of it.
    total = sum(payload[k] for k in ("data_share", "compute_share", "sync_share", "other_share"))
    assert abs(total - 1.0) < 1e-6


def test_shares_add_up_and_take_starts_a_new_interval():
    clock = iter([0.0, 1.0, 1.5, 3.5, 4.0, 5.0, 5.0, 5.0]).__next__
    timer = StepTimer(clock=clock)  # reset at 0.0
    timer.waiting_for_data()  # 1.0
    timer.data_ready()  # 1.5: 0.5 s of waiting
    timer.step_done()  # 3.5: 2.0 s of compute
    with timer.syncing():  # 4.0 .. 5.0: 1.0 s waiting for peers
        pass
    first = timer.take()  # 5.0
    assert first["steps"] == 1 and first["wall_s"] == 5.0
    assert (first["data_wait_s"], first["compute_s"], first["sync_s"], first["other_s"]) == (0.5, 2.0, 1.0, 1.5)
    assert first["data_share"] == 0.1 and first["sync_share"] == 0.2
    second = timer.take()  # 5.0: nothing happened since
    assert second["steps"] == 0 and second["data_wait_s"] == 0.0


def test_waiting_for_peers_and_an_idle_interval_get_their_own_words():
    sync_bound = {"steps": 10, "data_share": 0.05, "compute_share": 0.4, "sync_share": 0.5, "other_share": 0.05}
    idle_gpu = {"steps": 10, "data_share": 0.1, "compute_share": 0.5, "sync_share": 0.0, "other_share": 0.4,
                "gpu_busy_share": 0.5}
    found = dict(verdicts_by_process({0: sync_bound, 1: idle_gpu}))
    assert found[0].kind == "sync-bound" and "50 %" in found[0].text
    assert found[1].kind == "gpu-idle" and found[1].text.startswith("GPU idle 50 %")
    assert verdict({"steps": 0}).kind == "idle"
    # Every core already runs a worker: more workers cannot help, the advice says what can.
    crowded = verdict({"steps": 5, "data_share": 0.6}, {}, LoaderSetup(num_workers=7, cpu_count=8))
    assert crowded.kind == "data-bound" and "raise workers" not in crowded.text


def test_resource_sample_counts_the_loader_workers():
    data, _ = _data_and_model()
    sampler = ResourceSampler()
    loader = make_loader(SlowImages(data.train, 0.002), 8, shuffle=False, num_workers=2)
    seen = []
    for i, _ in enumerate(loader):
        if i in (2, 8):
            seen.append(sampler.sample())
    assert seen[0]["workers"] >= 2 or seen[1]["workers"] >= 2  # the first sample only starts a worker's interval
    assert seen[1]["rss_mb"] > 10 and seen[1]["cpu_count"] >= 1
    assert "gpu_util_percent" not in seen[1]  # a CPU run has no GPU figures


def _records(run_dir, kind):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in (decode(line) for line in lines if line.strip()) if r.kind == kind]


def _fit(run_dir, data, delay_s, **train):
    """A real run of the Trainer, recorded into run_dir, on `data` whose training images each take `delay_s`."""
    slow = dataclasses.replace(data, train=SlowImages(data.train, delay_s))
    torch.manual_seed(0)
    spec = ModelSpec("cnn", data.num_classes, 3, 16, {"channels": 4, "blocks": 2})
    config = TrainConfig(epochs=1, batch_size=16, device="cpu", evaluate_at_end=False, **train)
    run_dir.mkdir()
    trainer = Trainer(build_model(spec), slow, config, spec, [RunRecorder(RunDirectory(run_dir))])
    trainer.fit()


def test_a_slow_loader_runs_records_say_data_bound(tmp_path):
    data, _ = _data_and_model()
    _fit(tmp_path / "slow", data, 0.01)  # 160 ms of waiting per batch of 16, a few ms of compute
    found = _records(tmp_path / "slow", "compute")
    assert found, "a run writes its compute breakdown at least once an epoch"
    last = found[-1]
    assert last["verdict_kind"] == "data-bound" and last["data_share"] > 0.5, last
    assert last["verdict"].startswith("data-bound: ") and "raise workers to" in last["verdict"]
    assert last["rank"] == 0 and last["world_size"] == 1 and last["step"] == 6 and last["epoch"] == 1
    assert sum(r["steps"] for r in found) == 6  # every step counted once
    assert last["rss_mb"] > 10 and last["workers"] == 0

    _fit(tmp_path / "off", data, 0.0, compute_every_s=0.0)  # measuring switched off: no record
    assert _records(tmp_path / "off", "compute") == [] and _records(tmp_path / "off", "end")
