"""The one reducer of run records (core/runs/reducer.py) and the whole-file readers built on it
(core/runs/history.py): status words, liveness, the resume lineage, and each step once however a file is read."""
import random

import pytest

from core.runs import history, records, reducer
from core.runs.digest import MetricsDigest
from core.runs.follower import RunFollower
from core.runs.rank_status import rank_liveness
from core.runs.reducer import Lineage, RunState, current_lineage, rewind_of

START = dict(epochs=2, start_epoch=0, batches_per_epoch=5, total_steps=10)


def step(n, loss=None, time=None, **kw):
    return records.make("step", step=n, epoch=(n - 1) // 5 + 1, loss=1.0 / n if loss is None else loss,
                        time=time, **kw)


def epoch(e, val_acc, time=None):
    return records.make("epoch", epoch=e, step=5 * e, val_loss=1.0 - val_acc, val_acc=val_acc, time=time)


def killed_and_resumed():
    """A run checkpointed mid-epoch at step 3, killed at step 7 after writing epoch 1, resumed from step 3:
    steps 4-7 and epoch 1 are written twice, the second time with other values."""
    first = [records.make("start", **START, heartbeat_s=1.0), *[step(n) for n in range(1, 4)],
             records.make("checkpoint", checkpoint="last.pt", reason="periodic", epoch=1, step=3),
             *[step(n) for n in range(4, 6)], epoch(1, 0.5), *[step(n) for n in range(6, 8)]]
    second = [records.make("resume", epoch=0, step=3), records.make("start", **START, heartbeat_s=1.0),
              *[step(n, loss=10.0 + n) for n in range(4, 6)], epoch(1, 0.4), *[step(n, loss=10.0 + n) for n in range(6, 11)],
              epoch(2, 0.6), records.make("end", epoch=2, step=10)]
    return first + second


def write(path, lines):
    path.write_text("".join(records.encode(r) + "\n" for r in lines))
    return path


# ---- status ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("last, word", [("end", "finished"), ("stopped", "stopped"), ("error", "failed"),
                                        ("diverged", "diverged")])
def test_a_final_record_gives_its_word_however_long_ago(last, word):
    fields = {"end": dict(epoch=1, step=2), "stopped": dict(epoch=1, step=2), "error": dict(message="x"),
              "diverged": dict(step=2, message="nan")}[last]
    state = RunState().add_all([records.make("start", **START, time=0.0), records.make(last, **fields, time=1.0)])
    if last == "diverged":
        state.add(records.make("error", message="loss nan"))  # the error that follows keeps the sharper word
    assert state.status(now=1e12) == word and word in reducer.ENDED


def test_a_live_run_is_running_paused_or_evaluating_until_it_falls_silent():
    state = RunState()
    assert state.status(now=0.0) == reducer.WAITING
    state.add(records.make("start", **START, heartbeat_s=1.0, time=100.0))
    assert state.status(now=101.0) == reducer.RUNNING
    assert state.status(now=103.5) == reducer.NOT_RESPONDING  # more than 3 heartbeat intervals of silence
    assert state.status(now=103.5, activity_at=103.0) == reducer.RUNNING  # new bytes are a sign of life
    state.add(records.make("paused", step=0, time=104.0))
    assert state.status(now=105.0) == reducer.PAUSED
    state.add(records.make("heartbeat", state="evaluating", time=106.0))
    assert state.status(now=106.5) == reducer.EVALUATING
    state.add(epoch(1, 0.5, time=107.0))
    assert state.status(now=107.5) == reducer.RUNNING
    state.add(records.make("resume", epoch=1, step=5, time=200.0))
    assert state.status(now=200.5) == reducer.RUNNING and state.final is None


def test_a_writer_that_promised_no_heartbeat_gets_a_minute():
    old = records.Record(kind="start", version=0, time=100.0, epochs=1)  # an unversioned writer
    state = RunState().add_all([old])
    assert state.heartbeat_s is None
    assert state.status(now=150.0) == reducer.RUNNING and state.status(now=161.0) == reducer.NOT_RESPONDING
    versioned = RunState().add_all([records.make("start", **START, time=100.0)])  # no heartbeat_s: the default
    assert versioned.status(now=100.0 + 3 * 2.0 + 1) == reducer.NOT_RESPONDING


def test_rank_files_speak_the_same_words():
    assert rank_liveness({"state": "running", "time": 100.0}, now=101.0, heartbeat_s=0.5) == reducer.RUNNING
    assert rank_liveness({"state": "evaluating", "time": 100.0}, now=101.0, heartbeat_s=0.5) == reducer.EVALUATING
    assert rank_liveness({"state": "paused", "time": 100.0}, now=101.0, heartbeat_s=0.5) == reducer.PAUSED
    assert rank_liveness({"state": "running", "time": 100.0}, now=102.0, heartbeat_s=0.5) == reducer.NOT_RESPONDING
    assert rank_liveness({"state": "running"}, now=102.0, heartbeat_s=0.5) == reducer.NOT_RESPONDING  # no time
    assert rank_liveness({"state": "stopped", "time": 0.0}, now=102.0, heartbeat_s=0.5) == reducer.STOPPED
    assert rank_liveness({"state": "done", "time": 0.0}, now=102.0, heartbeat_s=0.5) == reducer.FINISHED
    assert rank_liveness({"state": "error", "time": 0.0}, now=102.0, heartbeat_s=0.5) == reducer.FAILED


def test_the_follower_and_the_run_list_say_the_same_word(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [records.make("start", **START, heartbeat_s=1.0, time=100.0), step(1, time=100.5),
             records.make("paused", step=1, time=101.0), records.make("heartbeat", state="paused", time=102.0)]
    write(path, lines)
    follower, digest = RunFollower(path), MetricsDigest()
    follower.poll()
    digest.update(path)
    for now, word in [(102.5, reducer.PAUSED), (110.0, reducer.NOT_RESPONDING)]:
        assert follower.status(now) == digest.status(now, modified=0.0) == word


def test_a_run_silent_for_long_with_no_final_record_is_interrupted_until_it_speaks_again(tmp_path):
    """A run whose process was killed (SIGKILL, a crash, the machine went down) left no final record: first
    "not responding", then, for good, "interrupted" (resumed from its last.pt), by every reader."""
    lines = [records.make("start", **START, heartbeat_s=1.0, time=100.0), step(1, time=100.5),
             records.make("heartbeat", state="running", time=101.0)]
    path = write(tmp_path / "metrics.jsonl", lines)
    follower, digest = RunFollower(path), MetricsDigest()
    follower.poll()
    digest.update(path)
    after = reducer.interrupted_after(1.0)
    assert after >= reducer.INTERRUPTED_MIN_S > reducer.silence_limit(1.0)
    for now, word in [(101.5, reducer.RUNNING), (110.0, reducer.NOT_RESPONDING),
                      (101.0 + after + 1, reducer.INTERRUPTED)]:
        assert follower.status(now) == digest.status(now, modified=0.0) == word
    assert reducer.INTERRUPTED in reducer.RESUMABLE and reducer.INTERRUPTED not in reducer.LIVE
    state = RunState().add_all(lines)
    state.add(records.make("heartbeat", state="running", time=5000.0))  # a laptop that slept with its run
    assert state.status(now=5000.5) == reducer.RUNNING
    assert rank_liveness({"state": "running", "time": 100.0}, now=100.0 + reducer.interrupted_after(0.5) + 1,
                         heartbeat_s=0.5) == reducer.INTERRUPTED


def test_training_time_leaves_out_pauses_and_the_gap_before_a_resume():
    """The Runs tab's duration: 10 s trained, paused 10 minutes, 10 s more, stopped; resumed a day later for
    5 s more is 25 s of training, not 10:31 or a day."""
    day = 86_400.0
    lines = [records.make("start", **START, heartbeat_s=1.0, time=100.0), step(1, time=105.0),
             records.make("paused", step=1, time=110.0), records.make("heartbeat", state="paused", time=400.0),
             records.make("resumed", step=1, time=710.0), step(2, time=715.0),
             records.make("stopped", epoch=0, step=2, time=720.0)]
    state = RunState().add_all(lines)
    assert state.training_s(now=2 * day) == pytest.approx(20.0)
    state.add_all([records.make("resume", epoch=0, step=2, time=day), records.make("start", **START, time=day + 1),
                   records.make("end", epoch=2, step=10, time=day + 6)])
    assert state.training_s(now=2 * day) == pytest.approx(25.0)
    live = RunState().add_all(lines[:3])  # paused now, for 90 s so far: not counted while it lasts
    assert live.training_s(now=200.0, activity_at=199.0) == pytest.approx(10.0)
    killed = RunState().add_all(lines[:2] + [records.make("resume", epoch=0, step=1, time=900.0),
                                             records.make("start", **START, time=901.0), step(2, time=903.0)])
    assert killed.training_s(now=903.5) == pytest.approx(5.0 + 2.5)  # the killed run's stretch ends at its last record


# ---- the resume lineage ---------------------------------------------------------------------------------
def test_a_resume_supersedes_what_the_killed_run_wrote_after_its_checkpoint():
    kept = current_lineage(killed_and_resumed())
    steps = [r for r in kept if r["kind"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 11))  # each step once, in order
    assert [r["loss"] for r in steps[3:7]] == [14.0, 15.0, 16.0, 17.0]  # the resumed run's values win
    assert [(r["epoch"], r["val_acc"]) for r in kept if r["kind"] == "epoch"] == [(1, 0.4), (2, 0.6)]
    assert rewind_of(records.make("resume", epoch=0, step=3)) == reducer.Rewind(epoch=0, step=3)
    assert rewind_of(step(3)) is None


def test_a_later_resume_from_an_older_checkpoint_rewinds_further():
    lines = [records.make("start", **START), *[step(n) for n in range(1, 6)], epoch(1, 0.5),
             *[step(n) for n in range(6, 9)],
             records.make("resume", epoch=1, step=7), step(8, loss=2.0), step(9, loss=2.0),
             records.make("resume", epoch=0, step=2),  # the user resumed from an earlier copy of last.pt
             *[step(n, loss=3.0) for n in range(3, 6)], epoch(1, 0.7)]
    kept = current_lineage(lines)
    assert [(r["step"], r["loss"]) for r in kept if r["kind"] == "step"] == \
        [(1, 1.0), (2, 0.5), (3, 3.0), (4, 3.0), (5, 3.0)]
    assert [r["val_acc"] for r in kept if r["kind"] == "epoch"] == [0.7]


def test_the_state_keeps_the_lineages_epochs_and_best():
    state = RunState().add_all(killed_and_resumed())
    assert [r["val_acc"] for r in state.epochs] == [0.4, 0.6] and state.epochs_done == 2
    assert state.best_epoch()["epoch"] == 2 and state.status(now=0.0) == reducer.FINISHED
    assert state.first_start is not state.start and state.planned_epochs == 2 and state.last_step == 10


def test_lineage_positions_need_only_increase():
    lines = killed_and_resumed()
    lineage = Lineage([(10 * i + 3, r) for i, line in enumerate(lines) if (r := rewind_of(line)) is not None])
    assert [r for i, r in enumerate(lines) if lineage.keeps(10 * i + 3, r)] == current_lineage(lines)


# ---- whole files ----------------------------------------------------------------------------------------
def test_the_file_reader_gives_the_lineage_and_counts_garbage(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "CHUNK_BYTES", 97)  # lines cut at every chunk boundary
    monkeypatch.setattr(history, "MAX_LINE_BYTES", 300)
    lines = killed_and_resumed()
    text = "".join(records.encode(r) + "\n" for r in lines[:8])
    text += "not a record\n" + "x" * 1000 + "\n"  # garbage, and a line too long to be a record
    text += "".join(records.encode(r) + "\n" for r in lines[8:]) + '{"kind": "step", "st'  # still being written
    (tmp_path / "metrics.jsonl").write_text(text)
    reader = history.LineageReader(tmp_path)
    assert list(reader) == current_lineage(lines) and reader.garbage_lines == 2
    assert history.fold(tmp_path).epochs == RunState().add_all(lines).epochs


def test_the_file_reader_agrees_with_the_list_for_any_history(tmp_path, monkeypatch):
    """Random runs killed and resumed from any earlier checkpoint, read in tiny chunks."""
    monkeypatch.setattr(history, "CHUNK_BYTES", 61)
    rng = random.Random(17)
    for trial in range(30):
        lines, done = [records.make("start", **START)], 0
        for _ in range(rng.randint(0, 4)):
            for n in range(done + 1, done + rng.randint(1, 6)):
                lines.append(step(n, loss=float(trial)))
                if n % 5 == 0:
                    lines.append(epoch(n // 5, 0.1))
            done = max(r["step"] for r in lines if r["kind"] == "step") if len(lines) > 1 else 0
            back = rng.randint(0, done)
            lines.append(records.make("resume", epoch=back // 5, step=back))
            done = back
        path = write(tmp_path / f"{trial}.jsonl", lines)
        kept = list(history.LineageReader(path))
        assert kept == current_lineage(lines)
        steps = [r["step"] for r in kept if r["kind"] == "step"]
        assert steps == sorted(set(steps))  # each step once, increasing


def test_the_newest_record_is_read_from_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "CHUNK_BYTES", 50)
    lines = [records.make("start", **START), *[step(n) for n in range(1, 30)]]
    for i, r in enumerate(lines):
        r["run"] = f"run-{i}"
    del lines[-1]["run"]
    path = write(tmp_path / "metrics.jsonl", lines)
    with open(path, "a") as fh:
        fh.write('{"kind": "ste')  # a line still being written
    assert history.last_record(tmp_path, lambda r: bool(r.get("run")))["run"] == "run-28"
    assert history.last_record(tmp_path, lambda r: r["kind"] == "start")["run"] == "run-0"
    assert history.last_record(tmp_path, lambda r: r["kind"] == "start", max_bytes=400) is None  # not that far back
    assert history.last_record(tmp_path / "missing", lambda r: True) is None
