"""What the run list needs from a metrics.jsonl, read fast and incrementally.

A run list of 10,000 folders cannot decode every step record of every run: a digest decodes only the rare
records (start, epoch, end, ...) and skips step lines with a byte test, remembers the byte offset it reached,
and on the next scan reads only what was appended. A file that shrank or was replaced starts over; a file
with more unread bytes than LARGE_UNREAD (a metrics file of several GB) is summarised from its head and its
last TAIL_BYTES, never read whole, and the row says so.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from core.io.small_files import open_regular
from core.runs.layout import METRICS
from core.runs.records import FINAL_KINDS, RecordError, decode
from core.runs.reducer import RunState

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


@dataclass
class MetricsDigest:
    """The summary of one metrics.jsonl so far, and where reading stopped. The records read are folded
    through core.runs.reducer (status, lineage of epochs, best accuracy); what is added here is what only a
    list of runs needs: the count of step lines, problems with the file, and two writers at once."""

    offset: int = 0
    identity: tuple[int, int] | None = None  # (device, inode): a new one means the file was replaced
    state: RunState = field(default_factory=RunState)
    records: int = 0  # records read (every step line counts, decoded or not)
    steps: int = 0  # step lines read (a resumed run's replayed steps count again)
    garbage: int = 0
    first_garbage: str = ""  # why the first skipped line was skipped
    bad_values: list[str] = field(default_factory=list)
    writer: tuple | None = None  # (host, pid) of the latest start
    open_start: bool = False  # a start with no final record since
    previous_kind: str = ""
    last_kind: str = ""
    conflict: str = ""  # two processes writing this folder at once
    skipped_bytes: int = 0  # a huge file: the middle that was never read

    # ---- what the state says, under the names the run list uses --------------------------------------
    @property
    def start(self) -> dict | None:
        return self.state.first_start

    @property
    def planned_epochs(self) -> int | None:
        return self.state.planned_epochs

    @property
    def final(self) -> dict | None:
        return self.state.final

    @property
    def last_step(self) -> int | None:
        return self.state.last_step

    @property
    def last_time(self) -> float | None:
        return self.state.last_time

    @property
    def eta_s(self) -> float | None:
        return self.state.eta_s

    @property
    def epochs_done(self) -> int:
        return self.state.epochs_done

    @property
    def best_val_acc(self) -> float | None:
        best = self.state.best_epoch()
        return float(best["val_acc"]) if best is not None else None

    @property
    def best_epoch(self) -> int | None:
        best = self.state.best_epoch()
        return best["epoch"] if best is not None else None

    # ---- reading -------------------------------------------------------------------------------------
    def update(self, path: str | os.PathLike, stat: os.stat_result | None = None) -> None:
        """Read what was appended since the last call. Raises OSError or SmallFileError (a FIFO, a device: never
        opened) only; the caller words them."""
        stat = stat or os.stat(path)
        identity = (stat.st_dev, stat.st_ino)
        if self.identity is not None and (identity != self.identity or stat.st_size < self.offset):
            self.__init__()  # replaced or truncated: read it again from the start
        self.identity = identity
        size = stat.st_size
        if size == self.offset:
            return
        with open_regular(path) as fh:
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
        # some line is neither (garbage, blank), go line by line. Either way the records go to the state in
        # file order, the block's last step among them.
        steps = body.count(STEP_MARKERS[0]) + body.count(STEP_MARKERS[1])
        others = [m.start() for m in OTHER_KIND.finditer(body)]
        if steps + len(others) == body.count(b"\n"):
            starts = [body.rfind(b"\n", 0, pos) + 1 for pos in others]
        else:
            starts = [start for start, line in _lines(body)
                      if line.strip() and STEP_MARKERS[0] not in line and STEP_MARKERS[1] not in line]
        last_step = max(body.rfind(STEP_MARKERS[0]), body.rfind(STEP_MARKERS[1]))
        last_step_start = body.rfind(b"\n", 0, last_step) + 1 if last_step >= 0 else None
        for start in sorted(starts + ([last_step_start] if last_step_start is not None else [])):
            line = body[start: body.find(b"\n", start)]  # every line of body ends with its newline
            if start == last_step_start:
                self._absorb_step(line)
            else:
                self._absorb_line(line)
        self.steps += steps
        self.records += steps
        return end

    def _absorb_step(self, line: bytes) -> None:
        """The block's last step: where the run is and its ETA (its other steps are only counted)."""
        try:
            record = decode(line)
        except RecordError:
            return  # counted with the steps; a damaged step line is no problem worth a row's words
        self.previous_kind, self.last_kind = self.last_kind, "step"
        self.state.add(record)

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
        if kind == "start":
            self._check_writer(record)
        elif kind in FINAL_KINDS:
            self.open_start = False
        elif kind == "epoch":
            self._check_epoch(record)
        self.state.add(record)

    def _check_writer(self, record: dict) -> None:
        writer = (record.get("host"), record.get("pid"))
        # A start while another writer's start has had no final record, and not right after a "resume"
        # (a killed run taken up again): two processes are appending to this folder at once.
        if self.open_start and self.previous_kind != "resume" and writer != self.writer and record.get("pid"):
            self.conflict = (f"two processes write this run at once (pid {self.writer[1]} on {self.writer[0]} and "
                             f"pid {writer[1]} on {writer[0]}): their records are interleaved; give each run "
                             "its own folder")
        self.writer, self.open_start = writer, True

    def _check_epoch(self, record: dict) -> None:
        epoch = record.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            self._bad(f"an epoch record has epoch={epoch!r}, not a whole number")
            return
        raw = record.get("val_acc")
        if raw is not None and not isinstance(raw, (int, float)):
            self._bad(f"epoch {epoch}: val_acc={str(raw)[:20]!r} is not a number")

    def _bad(self, message: str) -> None:
        if len(self.bad_values) < 5:
            self.bad_values.append(message)

    # ---- what the row shows --------------------------------------------------------------------------
    def status(self, now: float, modified: float) -> str:
        """One of core.runs.reducer.STATUSES, the file's modification time counting as a sign of life."""
        return self.state.status(now, activity_at=modified)

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
