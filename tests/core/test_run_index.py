"""The run list's index: summaries from config + records, incremental re-reads, and every bad input of
issue 8 turning into a message on that run's row (never an exception)."""
import json
import os
import time

import pytest

from core.runs import digest as run_digest
from core.runs.actions import (RunActionError, rename_run, restore_run, resume_request, run_settings, set_note,
                              trash_run)
from core.runs.index import RunIndex


def make_run(folder, epochs=3, done=3, final="end", steps_per_epoch=4, dataset="shapes", model="cnn"):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(
        {"data": {"name": dataset}, "model_name": model, "train": {"epochs": epochs, "lr": 0.01}}))
    lines = [{"version": 1, "kind": "start", "time": 1000.0, "epochs": epochs, "start_epoch": 0,
              "batches_per_epoch": steps_per_epoch, "total_steps": epochs * steps_per_epoch}]
    step = 0
    for epoch in range(1, done + 1):
        for _ in range(steps_per_epoch):
            step += 1
            lines.append({"version": 1, "kind": "step", "time": 1000.0 + step, "step": step, "loss": 1.0 / step})
        lines.append({"version": 1, "kind": "epoch", "time": 1000.0 + step, "epoch": epoch, "step": step,
                      "val_loss": 1.0 / epoch, "val_acc": [0.5, 0.8, 0.7, 0.9][epoch - 1]})
    if final:
        lines.append({"version": 1, "kind": final, "time": 1100.0, "epoch": done, "step": step})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines))
    return folder


def one(index, path):
    return index.summary(path)


def test_a_finished_run_is_summarised(tmp_path):
    run = make_run(tmp_path / "r1")
    row = one(RunIndex(tmp_path), run)
    assert (row.status, row.dataset, row.model, row.epochs_done, row.epochs_planned) == \
        ("finished", "shapes", "cnn", 3, 3)
    assert row.best_val_acc == 0.8 and row.best_epoch == 2
    assert row.started == 1000.0 and row.duration_s == 100.0 and row.error == ""
    assert row.steps == 12 and row.last_step == 12


def test_scan_lists_root_and_added_folders_and_skips_the_trash(tmp_path):
    root = tmp_path / "runs"
    make_run(root / "a")
    make_run(root / ".trash" / "old")
    make_run(tmp_path / "elsewhere" / "b")
    index = RunIndex(root)
    assert index.add_folder(tmp_path / "elsewhere") == [(tmp_path / "elsewhere" / "b").resolve()]
    assert sorted(s.name for s in index.scan()) == ["a", "b"]


def test_appended_records_are_read_from_the_remembered_offset(tmp_path):
    run = make_run(tmp_path / "r", epochs=4, done=2, final=None)
    index = RunIndex(tmp_path)
    first = one(index, run)
    assert first.epochs_done == 2 and first.status in ("running", "not responding")
    offset = index._cache[str(run)].digest.offset
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"kind": "epoch", "epoch": 3, "step": 12, "val_loss": 0.2, "val_acc": 0.95}) + "\n")
        fh.write('{"kind": "epoch", "epo')  # half-written: waits for its newline
    row = one(index, run)
    assert row.epochs_done == 3 and row.best_val_acc == 0.95 and row.error == ""
    assert index._cache[str(run)].digest.offset > offset


def test_a_truncated_or_replaced_file_is_read_again(tmp_path):
    run = make_run(tmp_path / "r")
    index = RunIndex(tmp_path)
    assert one(index, run).epochs_done == 3
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "epoch", "epoch": 1, "step": 4, "val_loss": 1.0,
                                                   "val_acc": 0.1}) + "\n")
    assert one(index, run).epochs_done == 1


def test_no_config(tmp_path):
    run = make_run(tmp_path / "r")
    (run / "config.json").unlink()
    row = one(RunIndex(tmp_path), run)
    assert "no config.json" in row.error and row.epochs_done == 3


@pytest.mark.parametrize("content, words", [
    (b"", "is empty"),
    (bytes(range(256)) * 40 + b"\n", "be read as records"),
    (b"hello\nworld\n[1, 2]\n", "none of its lines can be read"),
])
def test_empty_binary_or_garbage_metrics(tmp_path, content, words):
    run = make_run(tmp_path / "r")
    (run / "metrics.jsonl").write_bytes(content)
    row = one(RunIndex(tmp_path), run)
    assert words in row.error and row.epochs_done == 0


def test_nan_and_wrong_types(tmp_path):
    run = make_run(tmp_path / "r", final=None)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "epoch", "epoch": 4, "step": 16, "val_loss": NaN, "val_acc": NaN}\n')
        fh.write('{"kind": "epoch", "epoch": 5, "step": 20, "val_loss": 0.1, "val_acc": "high"}\n')
        fh.write('{"kind": "epoch", "epoch": "six", "step": 24, "val_loss": 0.1, "val_acc": 1.0}\n')
        fh.write('{"kind": "step", "step": "x", "loss": [1]}\n')
    row = one(RunIndex(tmp_path), run)
    assert row.best_val_acc == 0.8 and row.epochs_done == 4  # NaN read as "no value"; bad lines skipped
    assert "2 line(s) could not be read" in row.error and "'val_acc' must be" in row.error


def test_bad_config_json(tmp_path):
    run = make_run(tmp_path / "r")
    (run / "config.json").write_text("{not json")
    row = one(RunIndex(tmp_path), run)
    assert "config.json: not valid JSON" in row.error and row.epochs_done == 3


def test_folder_deleted_or_renamed_while_followed(tmp_path):
    run = make_run(tmp_path / "r")
    index = RunIndex(tmp_path, [run])
    assert one(index, run).status == "finished"
    run.rename(tmp_path / "moved")
    row = one(index, run)
    assert row.status == "missing" and "no longer exists" in row.error


def test_unreadable_folder(tmp_path, monkeypatch):
    run = make_run(tmp_path / "r")

    def refuse(path):  # chmod 0 does not stop root, so the refusal is simulated
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("core.runs.index.os.scandir", refuse)
    row = one(RunIndex(tmp_path), run)
    assert row.status == "unreadable" and "Permission denied" in row.error and "permissions" in row.error


def test_a_huge_metrics_file_is_never_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(run_digest, "LARGE_UNREAD", 50_000)
    monkeypatch.setattr(run_digest, "TAIL_BYTES", 2_000)
    run = make_run(tmp_path / "r", epochs=4, done=3, final=None, steps_per_epoch=2000)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"kind": "epoch", "epoch": 4, "step": 8000, "val_loss": 1.0, "val_acc": 0.3}) + "\n")
        fh.write(json.dumps({"kind": "end", "time": 5000.0, "epoch": 4, "step": 8000}) + "\n")
    reads = []
    real_open = open

    def counting_open(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        if "metrics" in str(path):
            real_read = fh.read
            fh.read = lambda n=-1: reads.append(n) or real_read(n)
        return fh

    monkeypatch.setattr("builtins.open", counting_open)
    row = one(RunIndex(tmp_path), run)
    assert all(0 <= n <= run_digest.HEAD_BYTES for n in reads)
    assert row.status == "finished" and row.epochs_done == 4 and "last" in row.error


def test_a_failed_run_shows_its_message(tmp_path):
    run = make_run(tmp_path / "r", done=1, final=None)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"kind": "error", "time": 2000.0, "message": "CUDA out of memory"}) + "\n")
    row = one(RunIndex(tmp_path), run)
    assert row.status == "failed" and "CUDA out of memory" in row.error


def test_two_writers_in_one_folder_are_detected(tmp_path):
    run = make_run(tmp_path / "r", final=None)
    lines = [{"version": 1, "kind": "start", "time": 2000.0, "epochs": 3, "start_epoch": 0, "batches_per_epoch": 4,
              "total_steps": 12, "pid": pid, "host": "box"} for pid in (11, 22)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    row = one(RunIndex(tmp_path), run)
    assert "two processes write this run" in row.error and "pid 11" in row.error and "pid 22" in row.error


def test_a_resume_after_a_killed_writer_is_not_two_writers(tmp_path):
    run = make_run(tmp_path / "r", final=None)
    start = {"version": 1, "kind": "start", "time": 2000.0, "epochs": 3, "start_epoch": 0, "batches_per_epoch": 4,
             "total_steps": 12, "host": "box"}
    lines = [dict(start, pid=11), {"version": 1, "kind": "resume", "time": 3000.0, "epoch": 1, "step": 4},
             dict(start, pid=22)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert "two processes" not in one(RunIndex(tmp_path), run).error


def test_a_resumed_runs_row_counts_the_epochs_of_its_lineage_only(tmp_path):
    """Killed after writing epoch 3 (99%) but before saving it: the resumed run's epoch 3 (70%) replaces it."""
    run = make_run(tmp_path / "r", done=3, final=None)
    with open(run / "metrics.jsonl", "a") as fh:
        for record in [{"version": 1, "kind": "epoch", "time": 1050.0, "epoch": 3, "step": 12, "val_loss": 0.1,
                        "val_acc": 0.99},
                       {"version": 1, "kind": "resume", "time": 1060.0, "epoch": 2, "step": 8},
                       {"version": 1, "kind": "epoch", "time": 1070.0, "epoch": 3, "step": 12, "val_loss": 0.3,
                        "val_acc": 0.7},
                       {"version": 1, "kind": "end", "time": 1080.0, "epoch": 3, "step": 12}]:
            fh.write(json.dumps(record) + "\n")
    row = one(RunIndex(tmp_path), run)
    assert (row.status, row.epochs_done, row.best_val_acc, row.best_epoch) == ("finished", 3, 0.8, 2)


def test_silence_without_a_final_record_is_not_responding_then_interrupted(tmp_path):
    run = make_run(tmp_path / "r", final=None)
    index = RunIndex(tmp_path)
    for ago, word in [(20, "not responding"), (3600, "interrupted")]:  # a heartbeat every 2 s was promised
        os.utime(run / "metrics.jsonl", (time.time() - ago, time.time() - ago))
        assert one(index, run).status == word


def test_rename_and_note_persist_without_moving_the_folder(tmp_path):
    run = make_run(tmp_path / "r")
    rename_run(run, "baseline")
    set_note(run, "lr too high")
    row = one(RunIndex(tmp_path), run)
    assert (row.name, row.note, row.path) == ("baseline", "lr too high", str(run))
    rename_run(run, "")
    assert one(RunIndex(tmp_path), run).name == "r"


def test_delete_to_trash_and_undo(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root / "r")
    index = RunIndex(root)
    trashed = trash_run(run, root)
    assert not run.exists() and trashed.trashed.parent == root / ".trash"
    assert index.scan() == []
    restore_run(trashed)
    assert [s.name for s in index.scan()] == ["r"]
    with pytest.raises(RunActionError):
        trash_run(root / "nope", root)


def test_settings_for_train_again_and_resume(tmp_path):
    run = make_run(tmp_path / "r")
    assert run_settings(run)["model_name"] == "cnn"
    with pytest.raises(RunActionError, match="no last.pt"):
        resume_request(run)
    (run / "last.pt").write_bytes(b"x")
    assert resume_request(run)[1] == run / "last.pt"
