"""What the run list needs from a metrics.jsonl, read fast and incrementally.

A run list of 10,000 folders cannot decode every step record of every run: a digest decodes only the rare
records (start, epoch, end, ...) and skips step lines with a byte test, remembers the byte offset it reached,
and on the next scan reads only what was appended. A file that shrank or was replaced starts over; a file
with more unread bytes than LARGE_UNREAD (a metrics file of several GB) is summarised from its head and its
last TAIL_BYTES, never read whole, and the row says so.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

from core.runs.follower import SILENCE_FACTOR
from core.runs.heartbeat import DEFAULT_INTERVAL_S
from core.runs.layout import METRICS
from core.runs.records import FINAL_KINDS, RecordError, decode

HEAD_BYTES = 64 << 10  # where the start record is
TAIL_BYTES = 8 << 20
LARGE_UNREAD = 64 << 20
MAX_LINE_BYTES = 1 << 20
STEP_MARKERS = (b'"kind":"step"', b'"kind": "step"')
OTHER_KIND = re.compile(rb'"kind": ?"(?!step")')


def _lines(body: bytes):
    """(offset, line) of each line of `body`."""
    start = 0
    for line in body.split(b"\n"):
        yield start, line
        start += len(line) + 1
NO_HEARTBEAT_SILENCE_S = 60.0  # version-0 writers sent no heartbeat: allow a long evaluation


def _number(value) -> float | None:
    """A finite float, or None for null / NaN / a wrong type."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class MetricsDigest:
    """The summary of one metrics.jsonl so far, and where reading stopped."""

    offset: int = 0
    identity: tuple[int, int] | None = None  # (device, inode): a new one means the file was replaced
    records: int = 0
    steps: int = 0
    garbage: int = 0
    first_garbage: str = ""  # why the first skipped line was skipped
    bad_values: list[str] = field(default_factory=list)
    writer: tuple | None = None  # (host, pid) of the latest start
    open_start: bool = False  # a start with no final record since
    previous_kind: str = ""
    conflict: str = ""  # two processes writing this folder at once
    eta_s: float | None = None
    start: dict | None = None
    planned_epochs: int | None = None  # from the latest start (a resume may ask for more)
    last_kind: str = ""
    last_time: float | None = None
    last_step: int | None = None
    heartbeat_state: str = ""
    final: dict | None = None  # the last end/stopped/error since the last start
    epochs_done: int = 0
    best_val_acc: float | None = None
    best_epoch: int | None = None
    heartbeat_s: float | None = None  # the writer's promise: a record at least this often while alive
    skipped_bytes: int = 0  # a huge file: the middle that was never read

    # ---- reading -------------------------------------------------------------------------------------
    def update(self, path: str | os.PathLike, stat: os.stat_result | None = None) -> None:
        """Read what was appended since the last call. Raises OSError only (the caller words it)."""
        stat = stat or os.stat(path)
        identity = (stat.st_dev, stat.st_ino)
        if self.identity is not None and (identity != self.identity or stat.st_size < self.offset):
            self.__init__()  # replaced or truncated: read it again from the start
        self.identity = identity
        size = stat.st_size
        if size == self.offset:
            return
        with open(path, "rb") as fh:
            if size - self.offset > LARGE_UNREAD:
                if self.offset == 0:
                    self._absorb_block(fh.read(HEAD_BYTES))
                tail_start = size - TAIL_BYTES
                fh.seek(tail_start)
                block = fh.read(TAIL_BYTES)
                cut = block.find(b"\n") + 1  # the tail starts on a line boundary
                self.skipped_bytes += tail_start + cut - self.offset
                self.offset = tail_start + cut + self._absorb_block(block[cut:])
                return
            fh.seek(self.offset)
            self.offset += self._absorb_block(fh.read(size - self.offset))

    def _absorb_block(self, block: bytes) -> int:
        """Take the complete lines of `block` and return the bytes used; a half-written last line waits for
        the next call."""
        end = block.rfind(b"\n") + 1
        if end == 0 and len(block) > MAX_LINE_BYTES:
            end = len(block)  # no newline in a megabyte: binary garbage, count it and move on
        body = block[:end]
        # Step records are most of a file and the list needs only their count and the last one. Fast path:
        # find the few other records by their "kind" in C and decode only those; when the line count says
        # some line is neither (garbage, blank), go line by line.
        steps = body.count(STEP_MARKERS[0]) + body.count(STEP_MARKERS[1])
        others = [m.start() for m in OTHER_KIND.finditer(body)]
        last_other = -1
        if steps + len(others) == body.count(b"\n"):
            for pos in others:
                last_other = body.rfind(b"\n", 0, pos) + 1
                self._absorb_line(body[last_other: body.find(b"\n", pos)])
        else:
            for start, line in _lines(body):
                if not line.strip() or STEP_MARKERS[0] in line or STEP_MARKERS[1] in line:
                    continue
                last_other = start
                self._absorb_line(line)
        self.steps += steps
        self.records += steps
        last_step = max(body.rfind(STEP_MARKERS[0]), body.rfind(STEP_MARKERS[1]))
        if last_step >= 0:
            line = body[body.rfind(b"\n", 0, last_step) + 1: body.find(b"\n", last_step)]
            try:
                record = json.loads(line)
                self.last_step = record.get("step") if isinstance(record.get("step"), int) else self.last_step
                self.last_time = _number(record.get("time")) or self.last_time
                self.eta_s = _number(record.get("eta_s")) if "eta_s" in record else self.eta_s
            except (ValueError, AttributeError):
                pass
            if last_step > last_other and self.last_kind in ("", "start", "resume", "epoch", "heartbeat"):
                self.last_kind = "step"
        return end

    def _absorb_line(self, line: bytes) -> None:
        try:
            record = decode(line)  # runs-core's decoder: the same checks as the follower's
        except RecordError as exc:
            self.garbage += 1
            if not self.first_garbage:
                self.first_garbage = f"{str(exc)[:100]} in {line[:40].decode('utf-8', 'replace')!r}"
            return
        self.records += 1
        kind = record["kind"]
        self.previous_kind, self.last_kind = self.last_kind, kind
        self.last_time = _number(record.get("time")) or self.last_time
        if isinstance(record.get("step"), int):
            self.last_step = record["step"]
        if kind in ("start", "resume"):
            if kind == "start":
                self._absorb_start(record)
            self.final = None
            self.heartbeat_state = ""
        elif kind in FINAL_KINDS:
            if not (kind == "error" and self.final is not None and self.final.get("kind") == "diverged"):
                self.final = record
            self.open_start = False
        elif kind == "heartbeat":
            self.heartbeat_state = record.get("state") or "running"
        elif kind in ("paused", "resumed"):
            self.heartbeat_state = "paused" if kind == "paused" else "running"
        elif kind == "epoch":
            self._absorb_epoch(record)

    def _absorb_start(self, record: dict) -> None:
        self.start = self.start or record  # the first start: when the run began
        self.planned_epochs = record.get("epochs")
        if record.get("version", 0) >= 1:
            self.heartbeat_s = record.get("heartbeat_s") or DEFAULT_INTERVAL_S
        writer = (record.get("host"), record.get("pid"))
        # A start while another writer's start has had no final record, and not right after a "resume"
        # (a killed run taken up again): two processes are appending to this folder at once.
        if self.open_start and self.previous_kind != "resume" and writer != self.writer and record.get("pid"):
            self.conflict = (f"two processes write this run at once (pid {self.writer[1]} on {self.writer[0]} and "
                             f"pid {writer[1]} on {writer[0]}): their records are interleaved; give each run "
                             "its own folder")
        self.writer, self.open_start = writer, True

    def _absorb_epoch(self, record: dict) -> None:
        epoch = record.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            self._bad(f"an epoch record has epoch={epoch!r}, not a whole number")
            return
        self.epochs_done = max(self.epochs_done, epoch)
        raw = record.get("val_acc")
        acc = _number(raw)
        if acc is None and raw is not None and not (isinstance(raw, float) and math.isnan(raw)):
            self._bad(f"epoch {epoch}: val_acc={str(raw)[:20]!r} is not a number")
        if acc is not None and (self.best_val_acc is None or acc > self.best_val_acc):
            self.best_val_acc, self.best_epoch = acc, epoch

    def _bad(self, message: str) -> None:
        if len(self.bad_values) < 5:
            self.bad_values.append(message)

    # ---- what the row shows --------------------------------------------------------------------------
    def status(self, now: float, modified: float) -> str:
        """finished / stopped / failed / paused / running / not responding / waiting (nothing written yet).
        Silence longer than SILENCE_FACTOR heartbeats (or NO_HEARTBEAT_SILENCE_S for writers that do not
        send heartbeats) with no final record means the writer died without a word."""
        if self.final is not None:
            return {"end": "finished", "stopped": "stopped", "diverged": "diverged"}.get(self.final.get("kind"),
                                                                                          "failed")
        if not self.records:
            return "waiting"
        silence = now - max(self.last_time or 0.0, modified)
        limit = self.heartbeat_s * SILENCE_FACTOR if self.heartbeat_s else NO_HEARTBEAT_SILENCE_S
        if silence > limit:
            return "not responding"
        if self.heartbeat_state in ("paused", "evaluating"):
            return self.heartbeat_state
        return "running"

    # ---- problems --------------------------------------------------------------------------
    def problems(self) -> list[str]:
        out = [self.conflict] if self.conflict else []
        if self.garbage:
            what = "none of its lines can" if not self.records else f"{self.garbage} line(s) could not"
            out.append(f"{METRICS}: {what} be read as records (skipped); first: {self.first_garbage}")
        out.extend(self.bad_values)
        if self.skipped_bytes:
            out.append(f"{METRICS} is {self.offset / 1e9:.1f} GB: the list shows its start and last "
                       f"{TAIL_BYTES >> 20} MB only (best accuracy may be from those epochs)")
        return out
