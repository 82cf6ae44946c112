"""Issue 17: a real CLI run killed with SIGKILL after a mid-epoch checkpoint, then resumed, writes the steps
after that checkpoint twice into its metrics.jsonl. Every reader shows each step exactly once, with the
resumed run's values: the Runs tab's curves, the Train tab's plots (following the folder live, across the
resume), the metrics CSV and the TensorBoard export."""
import csv
import signal
import time
from collections import Counter

import pytest

from core.checkpoints.checkpoint import load_checkpoint
from core.runs.history import LineageReader
from core.runs.layout import RunLayout
from core.runs.metrics_csv import write_metrics_csv
from core.runs.records import RecordError, decode
from core.training.tensorboard import export_run
from gui.runs.curves import RunCurves
from gui.training.run_handle import RunHandle
from gui.training.plots import TrainingPlots
from tests.support.signals import cli, finish

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402

# Tiny images, many small steps: an epoch lasts long enough for periodic checkpoints inside it. The engine
# reports every 0.1 s and saves last.pt at a report once CHECKPOINT_EVERY_MIN has passed, so about every
# other report: between two, the file holds steps past last.pt. The run is asked for many epochs; it is killed
# in one of the first, and the resume asks only for the epoch it was in.
TRAIN = ["train", "--model", "mlp", "--hidden", "8", "--shapes-count", "1200", "--image-size", "16", "--batch-size",
         "1", "--device", "cpu", "--quiet", "--schedule", "none", "--heartbeat-s", "0.2"]
CHECKPOINT_EVERY_MIN = "0.002"  # 0.12 s


def raw_records(run):
    """Every record as written (superseded ones too); none before the file exists."""
    path, out = RunLayout(run).metrics, []
    for line in path.read_bytes().splitlines() if path.exists() else []:
        try:
            out.append(decode(line))
        except RecordError:
            pass
    return out


def killed_epoch_if_ahead_of_the_checkpoint(run) -> int | None:
    """The epochs last.pt has completed when it is a mid-epoch checkpoint and the file holds steps past it,
    else None (read while the writer is frozen, so neither changes under the test)."""
    last, written = RunLayout(run).last_checkpoint, raw_records(run)
    start = next((r for r in written if r.kind == "start"), None)
    if not last.exists() or start is None:
        return None
    state = load_checkpoint(last).training_state
    written = max((r["step"] for r in written if r.kind == "step"), default=0)
    return state["epoch"] if state["step"] % start["batches_per_epoch"] and written > state["step"] else None


def kill_after_a_mid_epoch_checkpoint(proc, run, timeout=180.0) -> int:
    """Freeze the run (SIGSTOP) now and then until its last.pt is a mid-epoch checkpoint with steps written
    after it, then SIGKILL it: the file then runs ahead of the checkpoint, as after a crash. Returns the
    epochs last.pt has completed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        proc.send_signal(signal.SIGSTOP)
        epochs = killed_epoch_if_ahead_of_the_checkpoint(run)
        if epochs is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return epochs
        proc.send_signal(signal.SIGCONT)
    finish(proc, 5)
    pytest.fail("the run ended (or never checkpointed mid-epoch) before it could be killed after a checkpoint")


def tensorboard_steps(log_dir, tag):
    """Every point of `tag` in the event files as written (no reader purging duplicates)."""
    steps = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


@pytest.mark.timeout(600)
def test_a_run_killed_after_a_mid_epoch_checkpoint_and_resumed_shows_every_step_once(qtbot, tmp_path):
    run = tmp_path / "run"
    proc = cli([*TRAIN, "--epochs", "100", "--checkpoint-every-min", CHECKPOINT_EVERY_MIN, "--out", str(run)])
    try:
        done = kill_after_a_mid_epoch_checkpoint(proc, run)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = max(r["step"] for r in raw_records(run) if r.kind == "step")

    # The Train tab follows the folder from here on: it draws the killed run, then the resume rewinds it.
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    watch = RunHandle(run, poll_ms=100)
    watch.recordsArrived.connect(plots.add_records)
    watch.start()
    try:
        qtbot.waitUntil(lambda: len(plots.step_loss) and plots.step_loss.x[-1] == killed_at, timeout=30_000)
        resumed = cli(["train", "--resume", str(RunLayout(run).last_checkpoint), "--epochs", str(done + 1),
                       "--quiet", "--device", "cpu", "--heartbeat-s", "0.2"])
        code, _, err = finish(resumed, 300)
        assert code == 0, err
        qtbot.waitUntil(lambda: watch.status == "finished", timeout=30_000)
    finally:
        watch.shutdown()
        plots.timer.stop()

    written = raw_records(run)
    total = next(r for r in reversed(written) if r.kind == "start")["total_steps"]
    every_step, every_epoch = list(range(1, total + 1)), list(range(1, done + 2))
    twice = [s for s, n in Counter(r["step"] for r in written if r.kind == "step").items() if n > 1]
    assert twice and all(s <= killed_at for s in twice)  # the defect's premise: replayed steps are in the file
    newest_loss = {r["step"]: r["loss"] for r in written if r.kind == "step"}  # the resumed run's, written last
    lineage = list(LineageReader(run))
    assert [r["step"] for r in lineage if r.kind == "step"] == every_step

    # The Runs tab's curves.
    curves = RunCurves(run)
    while curves.update():
        pass
    assert curves.loss.x.tolist() == every_step
    assert curves.loss.y.tolist() == pytest.approx([newest_loss[s] for s in every_step])
    assert curves.val_acc.x.tolist() == every_epoch

    # The Train tab's plots.
    assert plots.step_loss.x.tolist() == every_step
    assert plots.step_loss.y.tolist() == pytest.approx([newest_loss[s] for s in every_step])
    assert plots.epoch_val_acc.x.tolist() == every_epoch

    # The metrics CSV.
    out_csv = tmp_path / "metrics.csv"
    write_metrics_csv(run, out_csv)
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["step"]) for row in rows if row["kind"] == "step"] == every_step
    assert [float(row["loss"]) for row in rows if row["kind"] == "step"] == \
        pytest.approx([newest_loss[s] for s in every_step])
    assert [int(row["epoch"]) for row in rows if row["kind"] == "epoch"] == every_epoch

    # The TensorBoard export.
    log_dir, _, garbage = export_run(run, tmp_path / "tb")
    assert sorted(tensorboard_steps(log_dir, "train/loss")) == every_step and garbage == 0
    assert sorted(tensorboard_steps(log_dir, "epoch/val_acc")) == every_epoch
