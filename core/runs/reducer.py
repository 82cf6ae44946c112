"""The one reading of a run's records (core.runs.records): every reader folds them through here.

- **Status words**, defined once: what a run is doing, said the same way by the follower, the run list, the
  Train tab and the per-process strip of a multi-process run.
- **Liveness**: a run (or one of its processes) with no final word is alive while it is heard from within
  SILENCE_FACTOR heartbeat intervals; after that it is "not responding" (killed, powered off, a lost mount),
  and once silent for interrupted_after() it is "interrupted": its process is gone without a last word, and
  the run is resumed from its last.pt. Both words go back to the live ones if the writer speaks again (a
  laptop that slept with its run).
- **The resume lineage**: a run killed after its last checkpoint wrote steps (and maybe an epoch) that its
  resumed run writes again. The "resume" record at (epoch E, step S) rewinds the history to that point: the
  step records past S and the epoch records past E written before it are superseded, so each step and each
  epoch counts once and the newest lineage wins. `rewind_of` gives that rule to views that keep buffers (they
  drop their points past the rewind); `Lineage` applies it to a file read twice (core.runs.history);
  `current_lineage` to a list.
- **RunState**: the fold of a run's records into what a reader shows (status, final record, epochs of the
  lineage, best accuracy, position, ETA, time spent training: paused time and the gaps between a stop and
  its resume excluded), one record at a time, so a follower and the run list keep it up to date from the
  bytes they read anew.

Pure: no I/O, no clock (the caller passes `now`), no torch.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.runs.heartbeat import DEFAULT_INTERVAL_S
from core.runs.records import EVALUATING, FINAL_KINDS, PAUSED, RUNNING, Record

# ---- status words ----------------------------------------------------------------------------------------
WAITING = "waiting"  # nothing written yet (or the file is gone until it comes back)
# RUNNING, PAUSED, EVALUATING: what a live writer says in its heartbeats (core.runs.records), said as is.
NOT_RESPONDING = "not responding"  # no final word, and silent for SILENCE_FACTOR heartbeat intervals
INTERRUPTED = "interrupted"  # no final word, and silent for long: gone (killed, crashed, the machine went down)
FINISHED = "finished"
STOPPED = "stopped"  # stopped by the user; last.pt holds the position to resume from
FAILED = "failed"
DIVERGED = "diverged"  # failed because the loss was no longer a number
LIVE = (RUNNING, PAUSED, EVALUATING)
ENDED = (FINISHED, STOPPED, FAILED, DIVERGED)
STATUSES = (WAITING, *LIVE, NOT_RESPONDING, INTERRUPTED, *ENDED)
RESUMABLE = (STOPPED, INTERRUPTED, FAILED)  # a run of these words can go on from its last.pt
FINAL_STATUS = {"end": FINISHED, "stopped": STOPPED, "error": FAILED, "diverged": DIVERGED}

SILENCE_FACTOR = 3  # heartbeat intervals of silence before a writer counts as gone
NO_HEARTBEAT_SILENCE_S = 60.0  # a writer that promised no heartbeat (record version 0): allow a long evaluation
# Silence that means the writer is gone: ten silence limits, and never under a minute (a heartbeat is written
# every few seconds by a thread of its own, also while paused or evaluating; only a dead or frozen process, a
# machine that sleeps or a lost mount stops it).
INTERRUPTED_FACTOR = 10
INTERRUPTED_MIN_S = 60.0


def silence_limit(heartbeat_s: float | None) -> float:
    """How long a writer may be silent and still count as alive."""
    return SILENCE_FACTOR * heartbeat_s if heartbeat_s else NO_HEARTBEAT_SILENCE_S


def interrupted_after(heartbeat_s: float | None) -> float:
    """How long a writer with no final word must be silent to count as gone: "interrupted"."""
    return max(INTERRUPTED_MIN_S, INTERRUPTED_FACTOR * silence_limit(heartbeat_s))


def liveness(last_heard: float | None, now: float, heartbeat_s: float | None, state: str = RUNNING) -> str:
    """The status of a writer with no final word: `state` (running / paused / evaluating, what it last said)
    while it was heard from within silence_limit(heartbeat_s) of `now`, NOT_RESPONDING after that, and
    INTERRUPTED once silent for interrupted_after(heartbeat_s) (with no time to go by: NOT_RESPONDING)."""
    if last_heard is None:
        return NOT_RESPONDING
    silent = now - last_heard
    if silent > interrupted_after(heartbeat_s):
        return INTERRUPTED
    if silent > silence_limit(heartbeat_s):
        return NOT_RESPONDING
    return state if state in LIVE else RUNNING


# ---- the resume lineage ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rewind:
    """A resume at (epoch, step): the steps after `step` and the epochs after `epoch` written before it are
    superseded by what the resumed run writes next."""

    epoch: int
    step: int

    def drops(self, record: dict) -> bool:
        """Whether `record`, written before this resume, is superseded by it."""
        kind = record.get("kind")
        if kind == "step":
            return _whole(record.get("step")) > self.step
        if kind == "epoch":
            return _whole(record.get("epoch")) > self.epoch
        return False


def _whole(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rewind_of(record: dict) -> Rewind | None:
    """The rewind a "resume" record asks for; None for every other record."""
    if record.get("kind") != "resume":
        return None
    return Rewind(epoch=_whole(record.get("epoch")), step=_whole(record.get("step")))


class Lineage:
    """Which records of a file belong to its current lineage, given the file's rewinds and their positions
    (any increasing numbers: byte offsets, indexes). A record is superseded when a rewind after it drops it;
    rewinds only ever drop steps above a bound and epochs above a bound, so the tightest bound of the rewinds
    after a position decides."""

    def __init__(self, rewinds: Sequence[tuple[int, Rewind]]):
        self.positions = [position for position, _ in rewinds]
        n = len(rewinds)
        self._step_bound = [math.inf] * (n + 1)  # [i]: the lowest step bound of rewinds i.. (inf: none)
        self._epoch_bound = [math.inf] * (n + 1)
        for i in range(n - 1, -1, -1):
            rewind = rewinds[i][1]
            self._step_bound[i] = min(rewind.step, self._step_bound[i + 1])
            self._epoch_bound[i] = min(rewind.epoch, self._epoch_bound[i + 1])

    def keeps(self, position: int, record: dict) -> bool:
        kind = record.get("kind")
        if kind not in ("step", "epoch"):
            return True
        later = bisect_right(self.positions, position)  # the first rewind after this record
        if kind == "step":
            return _whole(record.get("step")) <= self._step_bound[later]
        return _whole(record.get("epoch")) <= self._epoch_bound[later]


def current_lineage(records: Sequence[dict]) -> list[dict]:
    """The records of a list as the resumed run sees its history: superseded steps and epochs left out."""
    lineage = Lineage([(i, r) for i, record in enumerate(records) if (r := rewind_of(record)) is not None])
    return [record for i, record in enumerate(records) if lineage.keeps(i, record)]


# ---- the fold --------------------------------------------------------------------------------------------
def _number(value) -> float | None:
    """A finite float, or None for null / NaN / a wrong type."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class TrainingTime:
    """The seconds a run spent training, from its records' own times: from each "start" to its final record
    (to its last record, when it ended without one), less the time between "paused" and the next sign that it
    runs again. The gaps between a stop and its resume and every pause are left out."""

    done: float = 0.0  # the stretches that have ended
    opened: float | None = None  # when the stretch in progress started
    paused: float = 0.0  # the stretch's pauses that have ended
    paused_since: float | None = None
    last: float | None = None  # the stretch's newest record time

    def add(self, kind: str, state, time: float | None) -> None:
        if time is None:
            return
        if kind in ("start", "resume"):
            self._close(self.last)  # a run that ended without a word, resumed: its stretch ended when it went quiet
            if kind == "start":
                self.opened, self.paused, self.paused_since = time, 0.0, None
        elif self.opened is None:
            return
        elif kind in FINAL_KINDS:
            self._close(time)
            return
        elif kind == "paused" or (kind == "heartbeat" and state == PAUSED):
            self.paused_since = self.paused_since if self.paused_since is not None else time
        elif kind in ("resumed", "step", "epoch", "heartbeat") and self.paused_since is not None:
            self.paused += max(0.0, time - self.paused_since)
            self.paused_since = None
        self.last = time

    def _open_seconds(self, until: float) -> float:
        pausing = until - self.paused_since if self.paused_since is not None else 0.0
        return max(0.0, until - self.opened - self.paused - max(0.0, pausing))

    def _close(self, end: float | None) -> None:
        if self.opened is not None:
            self.done += self._open_seconds(end if end is not None else self.opened)
        self.opened, self.paused, self.paused_since, self.last = None, 0.0, None, None

    def seconds(self, until: float | None = None) -> float:
        """Training seconds so far; a stretch in progress counts up to `until` (now, for a live run), else to its
        newest record."""
        if self.opened is None:
            return self.done
        end = until if until is not None else (self.last if self.last is not None else self.opened)
        return self.done + self._open_seconds(max(end, self.opened))


@dataclass
class RunState:
    """What a run's records say so far. Feed every record in file order with `add` (a reader that skips step
    records may feed only the last step of what it read)."""

    records: int = 0
    first_start: Record | None = None  # when the run began
    start: Record | None = None  # the latest start: the planned epochs and the heartbeat promise
    heartbeat_s: float | None = None
    final: Record | None = None  # the last end / stopped / error / diverged since the latest start or resume
    activity: str = RUNNING  # what the writer last said it does: running / paused / evaluating
    last_time: float | None = None  # the newest record's own time
    last_step: int | None = None
    eta_s: float | None = None
    epochs: list[Record] = field(default_factory=list)  # the lineage's epoch records, in order
    training: TrainingTime = field(default_factory=TrainingTime)  # seconds spent training (pauses left out)

    def add(self, record: Record) -> Rewind | None:
        """Fold one record in; returns the rewind of a "resume" record (views drop their points past it)."""
        self.records += 1
        kind = record.get("kind")
        self.last_time = _number(record.get("time")) or self.last_time
        self.training.add(kind, record.get("state"), _number(record.get("time")))
        step = record.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            self.last_step = step
        if kind == "step":
            if self.activity == EVALUATING:
                self.activity = RUNNING
            if "eta_s" in record:
                self.eta_s = _number(record.get("eta_s"))
        elif kind == "epoch":
            self._add_epoch(record)
        elif kind in ("start", "resume"):
            self._begin(record)
        elif kind in FINAL_KINDS:
            # An error right after diverged is the same failure; keep the more precise word.
            if not (kind == "error" and self.final is not None and self.final.get("kind") == "diverged"):
                self.final = record
        elif kind == "paused":
            self.activity = PAUSED
        elif kind == "resumed":
            self.activity = RUNNING
        elif kind == "heartbeat":
            state = record.get("state")
            self.activity = state if state in LIVE else RUNNING
        rewind = rewind_of(record)
        if rewind is not None:
            self.epochs = [e for e in self.epochs if not rewind.drops(e)]
        return rewind

    def _begin(self, record: Record) -> None:
        self.final = None
        self.activity = RUNNING
        if record.get("kind") != "start":
            return
        self.first_start = self.first_start or record
        self.start = record
        promised = _number(record.get("heartbeat_s"))
        # A versioned writer beats every DEFAULT_INTERVAL_S unless it says otherwise; version 0 never beat.
        self.heartbeat_s = promised or (DEFAULT_INTERVAL_S if record.get("version", 0) >= 1 else None)

    def _add_epoch(self, record: Record) -> None:
        if self.activity == EVALUATING:
            self.activity = RUNNING
        epoch = record.get("epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool):
            self.epochs.append(record)

    def add_all(self, records: Iterable[Record]) -> "RunState":
        for record in records:
            self.add(record)
        return self

    # ---- what a reader shows -----------------------------------------------------------------------------
    def status(self, now: float, activity_at: float | None = None) -> str:
        """One of STATUSES. `activity_at`: the latest sign of life besides the records' own times (new bytes a
        follower saw arrive, the file's modification time)."""
        if self.final is not None:
            return FINAL_STATUS.get(self.final.get("kind"), FAILED)
        if not self.records:
            return WAITING
        heard = max((t for t in (self.last_time, activity_at) if t is not None), default=None)
        return liveness(heard, now, self.heartbeat_s, self.activity)

    def training_s(self, now: float, activity_at: float | None = None) -> float:
        """Seconds spent training, pauses and the gaps between a stop and its resume left out: a live run's up
        to `now`, any other's up to its last word."""
        live = self.status(now, activity_at) in LIVE
        return self.training.seconds(now if live else None)

    @property
    def planned_epochs(self) -> int | None:
        return self.start.get("epochs") if self.start is not None else None

    @property
    def epochs_done(self) -> int:
        return max((e["epoch"] for e in self.epochs), default=0)

    def best_epoch(self) -> Record | None:
        """The lineage's epoch record with the highest validation accuracy (the earliest of equals)."""
        best = None
        for record in self.epochs:
            acc = _number(record.get("val_acc"))
            if acc is not None and (best is None or acc > best[0]):
                best = (acc, record)
        return best[1] if best is not None else None
