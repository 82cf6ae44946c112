"""One look at a run: its folder (new records, status, per-process statuses, settings, the live-weights snapshot)
and, for a run this app started, its process (exit status) and its weights at each epoch end. Qt-free, so the
GUI polls it on a worker thread (gui/training/run_handle.py) and tests drive it directly.

A run the app started and a run it only follows are the same folder read the same way; the process adds the
exit, the weights and what is "fresh": records written by this process, not by an earlier run in the folder
(a resume goes on in the folder it stopped in, after that run's records).

The exit is checked before the records are read, so the look that sees the exit also reads every record the
process wrote before it ended, and then the weights it left in last.pt.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.processes.job import STOP_CODES, failure_message
from core.runs.control import SNAPSHOT_FILE, SNAPSHOT_STEP
from core.runs.follower import RunFollower
from core.runs.heartbeat import DEFAULT_INTERVAL_S
from core.runs.layout import CONFIG as CONFIG_FILE, LAST as LAST_CHECKPOINT
from core.runs.rank_status import rank_liveness, read_rank_statuses
from core.runs.records import CONFIG_VERSION

# A followed run's phase from its status word; any other word (a final one, not responding) is "ended".
FOLLOWED_PHASES = {"waiting": "starting", "running": "running", "evaluating": "running", "paused": "paused"}
NOT_WANTED = object()  # poll(snapshot_since=...) when nobody waits for a snapshot
UNCHANGED = object()  # Observation.config when config.json is the one read before


def file_stamp(path: Path):
    """What changes when a file is replaced (atomic writes make a new inode) or rewritten; None when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def read_config(folder: Path, seen_key):
    """(key, config) of the run folder's config.json when it is not the one seen (`seen_key`), else (seen_key,
    UNCHANGED). config: the dict, None when there is none, or a text saying why it cannot be used. A stat per
    call; the file is read only when it changed (written atomically: a new file each time)."""
    from core.runs.index import read_json_object

    path = folder / CONFIG_FILE
    try:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        key = None
    except OSError as exc:
        key = ("unreadable", str(exc))
    if key == seen_key:
        return seen_key, UNCHANGED
    if key is None:
        return None, None
    try:  # the one small-file reader: a FIFO, a huge, deeply nested or huge-number file costs this view only
        config = read_json_object(path)
    except (OSError, ValueError) as exc:
        return key, f"Its settings cannot be shown: {exc}"
    version = config.get("version", 0)
    if isinstance(version, int) and version > CONFIG_VERSION:
        return key, (f"Its settings cannot be shown: {CONFIG_FILE} was written by a newer Layerscope (version "
                     f"{version}); update Layerscope")
    return key, config


@dataclass
class RunWeights:
    """A run's weights as its last.pt holds them, without the training state (the hub needs weights only)."""
    checkpoint: object  # core.checkpoints.checkpoint.Checkpoint
    epoch: int  # epochs completed
    step: int
    final: bool  # read after the process ended: the run's last word


@dataclass
class Observation:
    records: list = field(default_factory=list)  # new core.runs.records Records, oldest first
    notices: list = field(default_factory=list)  # core.runs.follower Notices (files replaced, garbage lines)
    status: str = "waiting"  # the follower's word: running / paused / evaluating / finished / ... / waiting
    phase: str = "starting"  # starting / running / paused / ended: what the app can do with the run now
    ranks: list = field(default_factory=list)  # each process's status file, with its liveness
    config: object = UNCHANGED  # config.json when it appeared or changed (see read_config)
    exit_code: int | None = None  # the process this app started has exited with it
    final: dict | None = None  # the run's final record (end / stopped / error / diverged), fresh ones only
    failure: str | None = None  # why the process failed, for the user (at a failed exit)
    can_signal: bool = False  # the process has installed its handlers: a snapshot may be asked by signal
    snapshot_stamp: object = None  # RUN/live.pt as it is now
    snapshot: tuple | None = None  # (weights-only Checkpoint, step) newer than the one asked after
    weights: RunWeights | None = None  # last.pt, for an epoch that ended or at the exit


class RunFolderWatch:
    """Looks at a run folder (and at `job`, a core.processes.job.TrainJob, when this app started the run).
    Not thread-safe: one look at a time."""

    def __init__(self, folder: str | os.PathLike, job=None, *, heartbeat_s: float = DEFAULT_INTERVAL_S,
                 started_after: float | None = None):
        self.folder = Path(folder)
        self.job = job
        self.heartbeat_s = heartbeat_s
        # Records older than this were written by an earlier run in the folder (a resume's own history).
        self.started_after = started_after if started_after is not None else (time.time() if job else 0.0)
        self.follower = RunFollower(self.folder)
        self.exit_code: int | None = None
        self.started = False  # this process's start record has been read
        self._config_key = None
        self._epoch_wanted: int | None = None  # an epoch that ended, its weights not loaded yet
        self._weights_stamp = None  # last.pt as last looked at for it

    @property
    def owned(self) -> bool:
        return self.job is not None

    def poll(self, now: float | None = None, *, snapshot_since=NOT_WANTED) -> Observation:
        """Everything new since the last look. snapshot_since: RUN/live.pt as it was when a snapshot was asked
        for (None: there was none); a different file is loaded and returned."""
        code = self.job.process.poll() if self.job is not None and self.exit_code is None else None
        records = self._read(drain=code is not None)
        now = time.time() if now is None else now
        status = self.follower.status(now)
        look = Observation(records=records, notices=self.follower.take_notices(), status=status,
                           ranks=self._ranks(now), exit_code=code, final=self._final())
        self._config_key, look.config = read_config(self.folder, self._config_key)
        self._note_fresh(records)
        if code is not None:
            self.exit_code = code
        look.phase = self._phase(status)
        # Signals only between its start record and its last word: its handler is in place exactly then.
        look.can_signal = self.owned and self.started and self.exit_code is None and look.final is None
        look.weights = self._weights(final=code is not None and self._final_load(code))
        if code is not None and code != 0 and code not in STOP_CODES:
            look.failure = failure_message(self.folder, code, look.final)  # reads the end of the job's log
        look.snapshot_stamp = file_stamp(self.folder / SNAPSHOT_FILE)
        if snapshot_since is not NOT_WANTED and look.snapshot_stamp not in (None, snapshot_since):
            look.snapshot = _load_snapshot(self.folder / SNAPSHOT_FILE)
        return look

    # ---- records -------------------------------------------------------------------------------------
    def _read(self, drain: bool) -> list:
        records = []
        while True:  # the follower reads at most max_read per call; after the exit, read to the end
            batch = self.follower.poll()
            records.extend(batch)
            if not batch or not drain:
                return records

    def _fresh(self, record) -> bool:
        return (record.get("time") or 0.0) >= self.started_after

    def _note_fresh(self, records: list) -> None:
        for record in records:
            if not self._fresh(record):
                continue
            if record.get("kind") == "start" and not self.started:
                self.started = True
                if self.job is not None:
                    self.job.forget_settings()  # read long before its first record
            elif record.get("kind") == "epoch" and self.owned and isinstance(record.get("epoch"), int):
                self._epoch_wanted = record["epoch"]

    def _final(self) -> dict | None:
        final = self.follower.last_final
        return dict(final) if final is not None and self._fresh(final) else None

    def _phase(self, status: str) -> str:
        if self.owned:  # the process decides: alive until it exits, whatever its folder said before
            if self.exit_code is not None:
                return "ended"
            if not self.started:
                return "starting"
            return "paused" if status == "paused" else "running"
        return FOLLOWED_PHASES.get(status, "ended")  # finished / stopped / failed / diverged / not responding

    def _final_load(self, code: int) -> bool:
        """At the exit: a stopped run's last.pt (its position), or a finished run's last epoch if its epoch-end
        load has not happened yet; a failed run's last.pt is an earlier epoch's, already loaded."""
        return code in STOP_CODES or (code == 0 and self._epoch_wanted is not None)

    def _ranks(self, now: float) -> list[dict]:
        return [{**s, "liveness": rank_liveness(s, now, self.heartbeat_s)} for s in read_rank_statuses(self.folder)]

    # ---- weights -------------------------------------------------------------------------------------
    def _weights(self, final: bool) -> RunWeights | None:
        """last.pt once it holds the epoch that ended (it is written just after the epoch's record), and once
        more after the exit (a stopped run's position, a finished run's last epoch)."""
        if not self.owned or (self._epoch_wanted is None and not final):
            return None
        stamp = file_stamp(self.folder / LAST_CHECKPOINT)
        if stamp is None or (stamp == self._weights_stamp and not final):
            return None
        self._weights_stamp = stamp
        weights = _load_weights(self.folder / LAST_CHECKPOINT, final)
        if weights is None or (not final and weights.epoch < self._epoch_wanted):
            return None  # not written yet: the next look tries the next file
        self._epoch_wanted = None
        return weights


def _load_weights(path: Path, final: bool) -> RunWeights | None:
    from core.checkpoints.checkpoint import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return None
    state = ckpt.training_state or {}
    step = state.get("step", 0)
    return RunWeights(replace(ckpt, training_state=None), ckpt.epoch, step if isinstance(step, int) else 0, final)


def _load_snapshot(path: Path) -> tuple | None:
    from core.checkpoints.checkpoint import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:  # gone at the run's end, or replaced while read: the next look tries again
        return None
    step = ckpt.metrics.get(SNAPSHOT_STEP)
    return ckpt, step if isinstance(step, int) else 0
