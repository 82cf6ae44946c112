"""Multi-process training (DDP on gloo, 2 processes on the CPU), started the way users start it:
`layerscope train --nproc 2`. Each run starts real processes (torch is imported 3 times), so the runs are
shared between tests through module fixtures and kept tiny."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.runs.follower import RunFollower
from core.processes.launch import pick_port
from core.runs.rank_status import read_rank_statuses
from core.training.sampling import GlobalBatchShardSampler, global_batches

ROOT = Path(__file__).resolve().parents[2]
# 61 training images, batch 8: 7 full global batches and one of 5, split 3 + 2 (uneven shards on purpose).
TRAIN = ["--dataset", "shapes", "--model", "mlp", "--shapes-count", "61", "--image-size", "16", "--batch-size", "8",
         "--device", "cpu", "--quiet", "--seed", "3", "--option", "dropout=0", "--hidden", "16"]
RUN_TIMEOUT_S = 180


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), LAYERSCOPE_PG_TIMEOUT_S="15")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    env.update(extra)
    return env


def _train(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "core.cli", "train", *args], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def _weights(run: Path) -> dict:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=False)["model_state"]


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _records(run: Path) -> list[dict]:
    """Every complete record so far (none before the run has written its first)."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """two: 1 epoch in 2 processes; one: the same in 1 process; then each resumed to 2 epochs in the other."""
    base = tmp_path_factory.mktemp("ddp")
    out = {name: base / name for name in ("two", "one")}
    _train(*TRAIN, "--epochs", "1", "--nproc", "2", "--out", str(out["two"]))
    _train(*TRAIN, "--epochs", "1", "--out", str(out["one"]))
    out["two_then_one"] = base / "two_then_one"
    out["one_then_two"] = base / "one_then_two"
    _train("--resume", str(out["two"] / "last.pt"), "--epochs", "2", "--device", "cpu", "--quiet",
           "--out", str(out["two_then_one"]))
    _train("--resume", str(out["one"] / "last.pt"), "--epochs", "2", "--device", "cpu", "--quiet", "--nproc", "2",
           "--out", str(out["one_then_two"]))
    return out


def test_shards_cover_every_global_batch_without_overlap():
    single = list(GlobalBatchShardSampler(61, 8, seed=3, epoch=1))
    ranks = [list(GlobalBatchShardSampler(61, 8, seed=3, epoch=1, rank=r, world_size=2)) for r in range(2)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == global_batches(61, 8, 2) == 8
    for whole, a, b in zip(single, *ranks):
        assert sorted(a + b) == sorted(whole) and not set(a) & set(b)
    resumed = list(GlobalBatchShardSampler(61, 8, seed=3, epoch=1, rank=1, world_size=2, skip_batches=5))
    assert resumed == ranks[1][5:]


def test_a_last_batch_smaller_than_the_process_count_is_dropped_only_with_many_processes():
    assert global_batches(17, 8, 1) == 3
    assert global_batches(17, 8, 2) == 2  # one image cannot be split between 2 processes


def test_a_busy_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert pick_port(taken) != taken


def test_two_process_run_has_one_writer_and_one_status_file_per_rank(runs):
    run = runs["two"]
    statuses = read_rank_statuses(run)
    assert [s["rank"] for s in statuses] == [0, 1] and {s["state"] for s in statuses} == {"done"}
    assert len({s["pid"] for s in statuses}) == 2
    records = _records(run)
    assert {r["run"] for r in records} == {records[0]["run"]}  # one writer's records
    starts = [r for r in records if r["kind"] == "start"]
    assert len(starts) == 1 and starts[0]["pid"] == statuses[0]["pid"]
    assert len([r for r in records if r["kind"] == "step"]) == 8  # no step recorded twice
    # Each process's compute breakdown, written by the one writer: rank 0's and rank 1's for the same steps.
    compute = [r for r in records if r["kind"] == "compute"]
    assert compute and [r["rank"] for r in compute] == [0, 1] * (len(compute) // 2)
    assert {r["world_size"] for r in compute} == {2} and all(r["steps"] == 8 for r in compute)
    assert all(r["verdict"] and r["sync_share"] is not None for r in compute)


def test_two_processes_at_half_batch_train_the_same_weights_as_one_process(runs):
    assert _max_difference(_weights(runs["two"]), _weights(runs["one"])) < 1e-5
    two, one = (next(r for r in _records(runs[k]) if r["kind"] == "epoch") for k in ("two", "one"))
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):  # reduced over processes: the same numbers
        assert two[key] == pytest.approx(one[key], abs=1e-5), key


def test_checkpoints_hold_the_unwrapped_model_and_resume_at_either_world_size(runs):
    from core.checkpoints.checkpoint import load_checkpoint
    from core.models import build_model

    checkpoint = load_checkpoint(runs["two"] / "last.pt")  # the inspector's way in
    assert not any(k.startswith("module.") for k in checkpoint.model_state)
    build_model(checkpoint.model_spec, load_weights=False).load_state_dict(checkpoint.model_state)
    # 1 epoch in 2 processes then 1 in 1 process == 1 epoch in 1 process then 1 in 2 processes.
    assert _max_difference(_weights(runs["two_then_one"]), _weights(runs["one_then_two"])) < 1e-5
    assert [s["rank"] for s in read_rank_statuses(runs["one_then_two"])] == [0, 1]


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _start_long_run(run: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", *TRAIN, "--epochs", "500", "--nproc", "2",
                             "--out", str(run)], cwd=ROOT, env=_env(LAYERSCOPE_HEARTBEAT_S="0.2"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _both_ranks_running(run: Path):
    statuses = read_rank_statuses(run)
    return statuses if len(statuses) == 2 and all(s["state"] == "running" for s in statuses) else None


def test_a_killed_rank_fails_the_run_and_leaves_no_process(tmp_path):
    run = tmp_path / "killed"
    launcher = _start_long_run(run)
    try:
        statuses = _wait_for(lambda: _both_ranks_running(run), 120, "both ranks to run")
        os.kill(statuses[1]["pid"], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0, output[-3000:]
    follower = RunFollower(run / "metrics.jsonl")
    follower.poll()
    assert follower.status() == "failed"
    last = _records(run)[-1]
    assert last["kind"] == "error" and last["rank"] == 1 and "rank 1 was killed by SIGKILL" in last["message"], last
    assert not any(_alive(s["pid"]) for s in statuses)


def _steps(run: Path) -> list[int]:
    return [r["step"] for r in _records(run) if r["kind"] == "step"]


def _paused_together(run: Path, after: float):
    """Both ranks say paused in a status written after `after` (so not a stale one)."""
    statuses = read_rank_statuses(run)
    ok = len(statuses) == 2 and all(s["state"] == "paused" and s["time"] > after for s in statuses)
    return statuses if ok else None


def test_a_job_started_like_the_app_does_pauses_resumes_and_stops_by_a_signal_while_paused(tmp_path):
    """What the app does for Processes = 2 (core.processes.job): Pause / Resume through RUN/control.json, agreed by
    both processes; then Stop (SIGINT to the launcher, as Ctrl+C) while paused saves last.pt."""
    from core import catalog
    from core.runs.control import read_pause
    from core.data import DataSpec
    from core.training.session import RunSettings
    from core.processes.job import TrainJob
    from core.training.config import TrainConfig

    settings = RunSettings(
        data=DataSpec(name="shapes", image_size=16, train_count=61, val_count=catalog.shapes_val_count(61), seed=3),
        model_name="mlp", model_options={"hidden": [16], "dropout": 0.0},
        train=TrainConfig(epochs=500, batch_size=8, device="cpu", seed=3))
    run = tmp_path / "job"
    job = TrainJob.start(settings, run, nproc=2, env=_env(LAYERSCOPE_HEARTBEAT_S="0.2"))
    try:
        assert read_pause(run) is False  # the job starts from a control file that says run
        statuses = _wait_for(lambda: _both_ranks_running(run), 120, "both ranks to run")
        assert job.status() == "running"
        _wait_for(lambda: _steps(run), 60, "step records")

        asked = time.time()
        job.pause()
        assert read_pause(run) is True
        _wait_for(lambda: _paused_together(run, asked), 30, "both ranks to say paused")
        paused = _wait_for(lambda: [r for r in _records(run) if r["kind"] == "paused"], 30, "a paused record")[0]
        assert job.status() == "paused"
        # Both ranks keep writing their status while paused (they are alive, not hung), and no step is taken.
        held_since = time.time()
        _wait_for(lambda: _paused_together(run, held_since + 1.0), 30, "fresh paused statuses")
        assert max(_steps(run)) == paused["step"]
        assert {s["step"] for s in read_rank_statuses(run)} == {paused["step"]}

        job.resume()
        _wait_for(lambda: [r for r in _records(run) if r["kind"] == "resumed"], 30, "a resumed record")
        _wait_for(lambda: max(_steps(run)) > paused["step"] + 3, 60, "steps after the resume")
        assert job.status() == "running"

        job.pause()
        _wait_for(lambda: len([r for r in _records(run) if r["kind"] == "paused"]) == 2, 30, "the second pause")
        job.stop()  # a signal while paused: every process wakes, agrees to stop, rank 0 saves last.pt
        code = job.wait(timeout=90)
    finally:
        if job.running:
            job.process.kill()
    assert code == 130
    assert (run / "last.pt").exists() and job.status() == "stopped"
    assert {s["state"] for s in job.ranks()} == {"stopped"}
    assert not any(_alive(s["pid"]) for s in statuses)


def test_a_periodic_mid_epoch_checkpoint_holds_the_sums_of_every_rank_and_resumes_to_the_same_epoch_loss(tmp_path):
    """A 2-process run saving last.pt at every report (the save is agreed, so both processes reduce the epoch's
    running sums for it), paused mid-epoch so a copy of that last.pt can be taken; the run then finishes the
    epoch, and a resume from the copy reports the same epoch train loss and accuracy."""
    from core.runs.control import write_control

    run, again = tmp_path / "run", tmp_path / "again"
    batches = 160 // 8
    launcher = subprocess.Popen([sys.executable, "-m", "core.cli", "train", *TRAIN, "--shapes-count", "160",
                                 "--epochs", "500", "--schedule", "none",  # the resume asks for fewer epochs
                                 "--checkpoint-every-min", "1e-9", "--nproc", "2", "--out", str(run)],
                                cwd=ROOT, env=_env(LAYERSCOPE_HEARTBEAT_S="0.2"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: _steps(run), 120, "step records")
        for _ in range(3):  # a pause that lands on an epoch's first batch has no mid-epoch position: go on, again
            pauses = len([r for r in _records(run) if r["kind"] == "paused"])
            write_control(run, pause=True)
            paused = _wait_for(lambda: [r for r in _records(run) if r["kind"] == "paused"][pauses:], 30, "a pause")[0]
            if paused["step"] % batches:
                break
            write_control(run, pause=False)
            _wait_for(lambda: max(_steps(run)) > paused["step"] + 1, 30, "steps after the resume")
        saved = _wait_for(lambda: [r for r in _records(run) if r["kind"] == "checkpoint"
                                   and r["step"] == paused["step"]], 30, "the save at the paused step")[-1]
        assert saved["reason"] == "periodic" and saved["batch"] == paused["step"] % batches
        (tmp_path / "mid.pt").write_bytes((run / "last.pt").read_bytes())  # nothing is saved while paused now
        position = torch.load(tmp_path / "mid.pt", weights_only=True)["training_state"]["position"]
        assert position["batch"] == saved["batch"] > 0
        assert position["seen"] == position["batch"] * 8, "the images of both processes, not rank 0's half"
        epoch = position["epoch"] + 1
        write_control(run, pause=False)
        straight = _wait_for(lambda: [r for r in _records(run) if r["kind"] == "epoch" and r["epoch"] == epoch],
                             60, "the end of the paused epoch")[0]
        launcher.send_signal(signal.SIGINT)
        launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    _train("--resume", str(tmp_path / "mid.pt"), "--epochs", str(epoch), "--device", "cpu", "--quiet", "--nproc", "2",
           "--out", str(again))
    resumed = [r for r in _records(again) if r["kind"] == "epoch"][-1]
    assert resumed["epoch"] == epoch and resumed["step"] == straight["step"]
    assert resumed["train_acc"] == straight["train_acc"]
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-5)


def test_a_batch_norm_model_validated_in_two_processes_scores_as_its_checkpoint_does_in_one(tmp_path):
    """Buffers are not broadcast every forward (DDP's broadcast_buffers=False, for speed); evaluation syncs
    rank 0's first, so the sharded validation equals one process evaluating the saved weights."""
    from core.checkpoints.checkpoint import load_checkpoint
    from core.data import build_data
    from core.models import build_model
    from core.training.session import RunSettings
    from core.training.strategy import Strategy

    run = tmp_path / "bn"
    _train("--dataset", "shapes", "--model", "cnn", "--shapes-count", "48", "--image-size", "16", "--batch-size", "8",
           "--device", "cpu", "--quiet", "--seed", "5", "--epochs", "1", "--nproc", "2", "--out", str(run))
    epoch = next(r for r in _records(run) if r["kind"] == "epoch")
    checkpoint = load_checkpoint(run / "last.pt")
    assert any("running_mean" in k for k in checkpoint.model_state)  # the model has batch norm buffers
    model = build_model(checkpoint.model_spec, load_weights=False)
    model.load_state_dict(checkpoint.model_state)
    settings = RunSettings.from_dict(json.loads((run / "config.json").read_text()))
    data = build_data(settings.data)
    val_loss, val_acc = Strategy(torch.device("cpu")).evaluate(model, data.val, 8)
    assert epoch["val_loss"] == pytest.approx(val_loss, abs=1e-5) and epoch["val_acc"] == pytest.approx(val_acc)


def test_one_process_under_the_ddp_strategy_trains_exactly_as_the_plain_strategy(monkeypatch):
    """torchrun --nproc_per_node 1: no DDP wrapper and no collectives (nothing to average), the same steps."""
    from types import SimpleNamespace

    from torch.utils.data import TensorDataset

    from core.models import ModelSpec, build_model
    from core.training.strategy import DDP, Strategy
    from core.training.config import TrainConfig
    from core.training.trainer import Trainer

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, 8, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    data = SimpleNamespace(train=TensorDataset(x, y), val=TensorDataset(x[:8], y[:8]), classes=["a", "b", "c"],
                           spec=None, preprocess=None)
    spec = ModelSpec("mlp", 3, 3, 8, {"hidden": [16], "dropout": 0})

    def train(strategy):
        torch.manual_seed(0)
        model = build_model(spec, load_weights=False)
        config = TrainConfig(epochs=2, batch_size=8, device="cpu", evaluate_at_end=False, schedule="none",
                             num_workers=0)
        Trainer(model, data, config, spec, strategy=strategy).fit()
        return model.state_dict()

    plain = train(Strategy(torch.device("cpu")))
    for key, value in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                           MASTER_PORT=str(pick_port())).items():
        monkeypatch.setenv(key, value)
    ddp = DDP("cpu")
    try:
        assert ddp.wrap_model(torch.nn.Linear(2, 2)).__class__ is torch.nn.Linear
        assert ddp.agree(True, False) == (True, False)
        one = train(ddp)
    finally:
        ddp.teardown()
    assert _max_difference(plain, one) == 0.0
