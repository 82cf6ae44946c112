"""The run-folder readers a shared folder reaches (issue 18): the record decoder with numbers that broke every
view, the rank files (capped, schema-checked), the control file (a pause older than the run is never obeyed,
one obeyed is said with who asked), the whole-file readers (sparse holes skipped, progress said)."""
from __future__ import annotations

import json
import os
import time

import pytest

from core.runs import records
from core.runs.control import control_path, read_control, write_control
from core.progress import Reporter
from core.runs.history import LineageReader, fold
from core.runs.index import RunIndex
from core.runs.rank_status import MAX_RANK_FILES, read_rank_statuses
from core.runs.records import RecordError, decode
from core.training.run_control import ControlWatch
from tests.core.test_run_index import make_run

pytestmark = pytest.mark.timeout(120)


# ---- records ---------------------------------------------------------------------------------------------
START = '"kind": "start", "time": 1, "epochs": 3, "start_epoch": 0, "batches_per_epoch": 4, "total_steps": 12'


def test_a_null_version_reads_as_an_unversioned_record_and_the_run_list_stays():
    record = decode('{"version": null, ' + START + "}")
    assert record.version == 0 and records.Record(record).kind == "start"


@pytest.mark.parametrize("line", [
    '{"version": 1, "kind": "step", "time": 1, "step": 1' + "0" * 400 + ', "loss": 1}',  # beyond float range
    '{"version": 1, "kind": "step", "time": 1, "step": 1' + "0" * 5000 + ', "loss": 1}',  # past int()'s digit limit
    '{"version": 1, "kind": "step", "time": 1, "step": ' + str(2 ** 60) + ', "loss": 1}',  # beyond what a float holds
    '{"version": 1, "kind": "step", "time": 1, "step": 1, "loss": 1, "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
])
def test_a_line_with_a_number_or_nesting_no_run_writes_is_invalid_not_an_exception(line):
    with pytest.raises(RecordError):
        decode(line)


def test_numbers_beyond_what_a_run_computes_read_as_null():
    record = decode('{"version": 1, "kind": "epoch", "time": 1, "epoch": 1, "step": 4, "val_loss": 1e300, '
                    '"val_acc": 0.5, "train_loss": -1e39, "lr": 3e38}')
    assert (record["val_loss"], record["train_loss"], record["lr"], record["val_acc"]) == (None, None, 3e38, 0.5)


def test_one_run_with_such_lines_costs_its_lines_only_and_the_list_keeps_every_run(tmp_path):
    make_run(tmp_path / "good")
    bad = make_run(tmp_path / "bad")
    with open(bad / "metrics.jsonl", "a") as fh:
        fh.write('{"version": null, ' + START.replace('"time": 1', '"time": 1200') + "}\n")
        fh.write('{"version": 1, "kind": "epoch", "time": 1201, "epoch": 1' + "0" * 400 +
                 ', "step": 4, "val_loss": 1, "val_acc": 0.5}\n')
        fh.write('{"version": 1, "kind": "heartbeat", "time": 1e300, "state": "running"}\n')
    rows = {row.name: row for row in RunIndex(tmp_path).scan()}
    assert rows["good"].status == "finished" and rows["good"].error == ""
    assert rows["bad"].epochs_done == 3 and "could not be read" in rows["bad"].error
    assert fold(bad).epochs_done == 3


# ---- rank files ------------------------------------------------------------------------------------------
def test_rank_files_are_read_by_rank_capped_and_checked(tmp_path):
    ranks = tmp_path / "ranks"
    ranks.mkdir()
    for i in range(MAX_RANK_FILES + 50):
        (ranks / f"rank-{i}.json").write_text(json.dumps({"rank": i, "state": "running", "step": 1, "time": 1.0}))
    (ranks / "rank-3.json").write_text(json.dumps({"rank": 3, "step": "<b>3</b>" * 1000}))  # wrong type
    (ranks / "rank-4.json").write_text('{"rank": 4, "step": 1' + "0" * 400 + "}")  # beyond float range
    (ranks / "rank-5.json").write_text("[" * 100_000 + "]" * 100_000)
    os.unlink(ranks / "rank-6.json")
    os.mkfifo(ranks / "rank-6.json")
    (ranks / "rank-7.json").write_text(json.dumps({"rank": 7, "host": "h" * 10_000, "message": "<img src=x>"}))
    statuses = read_rank_statuses(tmp_path)
    assert [s["rank"] for s in statuses] == [r for r in range(MAX_RANK_FILES) if r not in (3, 4, 5, 6)]
    seven = next(s for s in statuses if s["rank"] == 7)
    assert len(seven["host"]) == 200 and seven["message"] == "<img src=x>"  # plain text; the strip escapes it


# ---- the control file ------------------------------------------------------------------------------------
class _Trainer:
    def __init__(self):
        self.pause_wanted, self.stopped = False, False

    def pause(self, reason=""):  # RunView.pause: the reason goes in the paused record
        self.pause_wanted = True

    def resume(self, reason=""):
        self.pause_wanted = False

    def stop(self):
        self.stopped = True


def _watch(run, started_at):
    said = []
    watch = ControlWatch(run, started_at=started_at)
    watch.on_warning = said.append
    return watch, said


def test_a_pause_older_than_the_run_is_cleared_and_said_never_obeyed(tmp_path):
    write_control(tmp_path, pause=True, by="a window that followed the last run")
    watch, said = _watch(tmp_path, started_at=time.time() + 10)  # the run began after the pause was written
    trainer = _Trainer()
    watch.on_fit_start(trainer, {})
    assert not trainer.pause_wanted and read_control(tmp_path)["pause"] is None
    assert said and "ignored a pause" in said[0] and "a window that followed the last run" in said[0]


def test_a_pause_written_for_this_run_is_obeyed_and_says_who_asked_and_when(tmp_path):
    watch, said = _watch(tmp_path, started_at=time.time() - 10)
    trainer = _Trainer()
    watch.on_fit_start(trainer, {})
    assert not trainer.pause_wanted and not said
    write_control(tmp_path, pause=True, by="the Layerscope window, pid 1 on a-host")
    watch.poll(trainer, force=True)
    assert trainer.pause_wanted and len(said) == 1
    assert said[0].startswith("paused by the Layerscope window, pid 1 on a-host at ") and str(control_path(tmp_path)) in said[0]
    write_control(tmp_path, pause=False)
    watch.poll(trainer, force=True)
    assert not trainer.pause_wanted


def test_a_hand_written_pause_without_a_time_is_as_old_as_its_file(tmp_path):
    control_path(tmp_path).write_text('{"pause": true}')
    old = time.time() - 3600
    os.utime(control_path(tmp_path), (old, old))
    watch, said = _watch(tmp_path, started_at=time.time() - 60)
    trainer = _Trainer()
    watch.on_fit_start(trainer, {})
    assert not trainer.pause_wanted and "ignored a pause" in said[0]


@pytest.mark.parametrize("make", ["fifo", "deep", "huge", "link"])
def test_a_control_file_that_is_no_command_never_blocks_or_raises(tmp_path, make):
    path = control_path(tmp_path)
    if make == "fifo":
        os.mkfifo(path)
    elif make == "deep":
        path.write_text('{"pause": ' + "[" * 100_000 + "]" * 100_000 + "}")
    elif make == "huge":
        path.write_text('{"pause": true, "time": 1' + "0" * 400 + "}")
    else:
        (tmp_path / "elsewhere.json").write_text('{"pause": true}')
        os.symlink(tmp_path / "elsewhere.json", path)
    assert read_control(tmp_path) is None
    watch, _said = _watch(tmp_path, started_at=0.0)
    trainer = _Trainer()
    watch.on_fit_start(trainer, {})
    watch.poll(trainer, force=True)
    assert not trainer.pause_wanted and not trainer.stopped


# ---- whole-file readers ----------------------------------------------------------------------------------
def test_a_sparse_metrics_file_is_skipped_over_not_read(tmp_path):
    run = make_run(tmp_path / "run")
    good = (run / "metrics.jsonl").read_bytes()
    with open(run / "metrics.jsonl", "r+b") as fh:
        fh.seek(8 * 2**30)  # an 8 GB hole, then the records again
        fh.write(good)
    chunks = []
    reader = LineageReader(run, Reporter(lambda done, total, message: chunks.append(done)))
    kinds = [r.kind for r in reader]
    assert kinds.count("epoch") == 6 and reader.garbage_lines == 1  # the hole and the line it cut: one
    assert len(chunks) < 20  # not the 2 x 8,192 chunks of reading the hole


def test_a_long_export_says_how_far_it_is(tmp_path):
    pytest.importorskip("tensorboard")
    from core.training.tensorboard import export_run

    run = tmp_path / "run"
    run.mkdir()
    lines = [records.encode(records.make("start", epochs=1, start_epoch=0, batches_per_epoch=60_000,
                                         total_steps=60_000))]
    lines += [records.encode(records.make("step", step=s, epoch=1, loss=1.0)) for s in range(1, 60_001)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")  # about 4 MB: a few chunks
    seen = []
    export_run(run, tmp_path / "tb", Reporter(lambda done, total, message: seen.append(done / total)))
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] > 0.5
