"""Run records and the follower: encode/decode checks, and following a file that is written, cut, replaced,
deleted or full of garbage."""
import json
import math
import os
import threading

import pytest

from core.runs import records
from core.runs.follower import RunFollower
from core.runs.records import RecordError


def write(path, *lines, mode="a"):
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("".join(lines))


def line(kind="step", **fields):
    return records.encode(records.make(kind, **fields)) + "\n"


# ---- records --------------------------------------------------------------------------------------------
def test_make_encode_decode_round_trip_with_nan_as_null():
    r = records.make("step", step=3, epoch=1, loss=float("nan"), lr=1e-3)
    assert r["version"] == records.RECORD_VERSION and r.kind == "step" and isinstance(r.time, float)
    text = records.encode(r)
    assert "NaN" not in text
    back = records.decode(text)
    assert back == r and back["loss"] is None


def test_decode_reads_nan_and_infinity_literals_as_null():
    back = records.decode('{"kind": "step", "step": 1, "loss": NaN, "lr": Infinity, "acc": 1e999}')
    assert back["loss"] is None and back["lr"] is None and back["acc"] is None
    assert back.version == 0  # an unversioned (older) line reads as version 0


@pytest.mark.parametrize("text, why", [
    ('{"kind": "step", "step": "three", "loss": 1.0}', "step"),
    ('{"kind": "step", "step": 1.5, "loss": 1.0}', "step"),
    ('{"kind": "step", "step": true, "loss": 1.0}', "bool"),
    ('{"kind": "epoch", "epoch": 1, "step": 4, "val_loss": [1], "val_acc": 0.5}', "val_loss"),
    ('{"kind": "step", "loss": 1.0}', "needs step"),
    ('{"step": 1}', "kind"),
    ('[1, 2]', "object"),
    ('{"kind": "step", ', "JSON"),
    ('{"kind": "step", "step": 1, "loss": 1.0, "version": 99}', "newer"),
    (b'\xff\xfe\x00garbage', "UTF-8"),
])
def test_decode_refuses_bad_records_with_a_reason(text, why):
    with pytest.raises(RecordError, match=why):
        records.decode(text)


def test_make_refuses_a_wrong_type():
    with pytest.raises(RecordError, match="epoch"):
        records.make("heartbeat", state="running", epoch="one")


def test_unknown_kinds_and_fields_pass_through_for_newer_minor_additions():
    r = records.decode('{"version": 1, "kind": "custom", "time": 1.0, "anything": [1, 2]}')
    assert r.kind == "custom" and r["anything"] == [1, 2]


# ---- follower -------------------------------------------------------------------------------------------
def test_reads_only_new_bytes_and_waits_for_a_half_written_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, line("step", step=1, loss=1.0))
    f = RunFollower(path)
    assert [r["step"] for r in f.poll()] == [1]
    assert f.poll() == []
    full = line("step", step=2, loss=0.5)
    write(path, full[:10])
    assert f.poll() == []  # half a line: nothing yet
    write(path, full[10:])
    assert [r["step"] for r in f.poll()] == [2]
    assert f.offset == path.stat().st_size and f.garbage_lines == 0


def test_garbage_lines_are_counted_and_reported_not_raised(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, line("step", step=1, loss=1.0), "not json\n", '{"kind": "step", "step": "x", "loss": 1}\n',
          "\x00\x01\x02\n", '{"kind":"step","step":2,"loss":NaN}\n', line("step", step=3, loss=0.1))
    f = RunFollower(path)
    got = f.poll()
    assert [r["step"] for r in got] == [1, 2, 3] and got[1]["loss"] is None
    assert f.garbage_lines == 3
    notes = f.take_notices()
    assert [n.kind for n in notes] == ["garbage"] * 3 and "line 2" in notes[0].message


def test_binary_file_without_newlines_is_garbage_not_memory(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(os.urandom(5 << 20).replace(b"\n", b" "))
    f = RunFollower(path, max_read=1 << 20)
    for _ in range(6):
        assert f.poll() == []
    assert f.garbage_lines == 1 and len(f._partial) <= (1 << 20)
    write(path, "\n" + line("step", step=1, loss=1.0))
    assert [r["step"] for r in f.poll()] == [1]


def test_truncated_file_is_read_again_from_the_start_and_reported(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, line("step", step=1, loss=1.0), line("step", step=2, loss=1.0))
    f = RunFollower(path)
    assert len(f.poll()) == 2
    write(path, line("step", step=7, loss=1.0), mode="w")  # shorter than before
    assert [r["step"] for r in f.poll()] == [7]
    assert [n.kind for n in f.take_notices()] == ["truncated"] and f.restarts == 1


def test_replaced_file_is_followed_from_its_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, line("step", step=1, loss=1.0))
    f = RunFollower(path)
    f.poll()
    other = tmp_path / "new.jsonl"
    write(other, *(line("step", step=s, loss=1.0) for s in range(10, 14)))
    os.replace(other, path)  # a new inode, longer than what was read
    assert [r["step"] for r in f.poll()] == [10, 11, 12, 13]
    assert [n.kind for n in f.take_notices()] == ["replaced"]


def test_deleted_file_is_reported_once_and_followed_when_it_comes_back(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write(path, line("step", step=1, loss=1.0))
    f = RunFollower(path)
    f.poll()
    path.unlink()
    assert f.poll() == [] and f.poll() == []
    assert [n.kind for n in f.take_notices()] == ["missing"]
    write(path, line("step", step=1, loss=2.0))
    assert [r["loss"] for r in f.poll()] == [2.0]
    assert [n.kind for n in f.take_notices()] == ["reappeared"]


def test_writer_thread_and_follower_see_every_record_in_order(tmp_path):
    path = tmp_path / "metrics.jsonl"
    n = 3000
    done = threading.Event()

    def writer():
        for s in range(1, n + 1):
            with open(path, "a", encoding="utf-8") as fh:  # many small writes, some cut mid-line by the reader
                text = line("step", step=s, loss=1.0 / s)
                fh.write(text[:7])
                fh.flush()
                fh.write(text[7:])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    f = RunFollower(path)
    seen = []
    while not done.is_set():
        seen += f.poll()
    thread.join()
    seen += f.poll()
    assert [r["step"] for r in seen] == list(range(1, n + 1)) and f.garbage_lines == 0


# ---- status ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("last, status", [
    ("end", "finished"), ("stopped", "stopped"), ("error", "failed"), ("diverged", "diverged")])
def test_status_after_a_final_record(tmp_path, last, status):
    path = tmp_path / "metrics.jsonl"
    fields = {"end": {"epoch": 1, "step": 2}, "stopped": {"epoch": 1, "step": 2}, "error": {"message": "x"},
              "diverged": {"step": 2, "message": "nan"}}[last]
    write(path, line("start", epochs=1, start_epoch=0, batches_per_epoch=2, total_steps=2, heartbeat_s=1.0),
          line(last, **fields))
    if last == "diverged":
        write(path, line("error", message="loss nan"))  # the error that follows keeps the sharper word
    f = RunFollower(path)
    f.poll()
    assert f.status(now=1e12) == status  # final records hold however long ago they were written


def test_status_running_paused_and_not_responding_from_record_times(tmp_path):
    path = tmp_path / "metrics.jsonl"
    f = RunFollower(path)
    assert f.status() == "waiting"
    write(path, line("start", epochs=1, start_epoch=0, batches_per_epoch=2, total_steps=2, heartbeat_s=1.0, time=100.0))
    f.poll()
    assert f.status(now=101.0) == "running"
    assert f.status(now=103.5) == "not responding"  # more than 3 heartbeat intervals of silence
    write(path, line("paused", step=0, time=104.0), line("heartbeat", state="paused", time=105.0))
    f.poll()
    assert f.status(now=106.0) == "paused"
    write(path, line("resumed", step=0, time=106.0), line("heartbeat", state="evaluating", time=107.0))
    f.poll()
    assert f.status(now=107.5) == "evaluating"
    write(path, line("resume", epoch=0, step=0, time=200.0), line("end", epoch=1, step=2, time=201.0))
    f.poll()
    assert f.status(now=500.0) == "finished"
    assert math.isclose(f.heartbeat_s, 1.0)


def test_json_lines_written_by_hand_count(tmp_path):
    """A record list written with plain json.dumps (no version) still reads."""
    path = tmp_path / "metrics.jsonl"
    write(path, json.dumps({"kind": "epoch", "epoch": 1, "step": 3, "val_loss": 0.5, "val_acc": 0.9}) + "\n")
    assert RunFollower(tmp_path).poll()[0]["val_acc"] == 0.9
