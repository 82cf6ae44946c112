"""Follow a metrics.jsonl that another process (or thread) is writing: read only what is new, from a
remembered byte offset, and tell what state the run is in.

RunFollower(path).poll() returns the complete records written since the last poll. It never raises for what
is in the file: a half-written last line waits until its newline arrives; garbage lines are counted and
described in `notices`; a truncated, replaced (new inode) or deleted file is noticed, reported and followed
from its new start. `status(now)` says running / paused / evaluating / finished / stopped / failed /
diverged / not responding / waiting (for the file: a run folder followed before its run starts), from the
records folded through core.runs.reducer like every other reader's.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

from core.io.small_files import SmallFileError, open_regular
from core.runs.layout import metrics_file
from core.runs.records import Record, RecordError, decode
from core.runs.reducer import WAITING, RunState

MAX_LINE_BYTES = 1 << 20  # a "line" longer than this is garbage (a binary file without newlines)
DEFAULT_MAX_READ = 32 << 20  # per poll, so one poll of a multi-GB file returns quickly; the next goes on


@dataclass
class Notice:
    kind: str  # garbage | truncated | replaced | missing | reappeared | unreadable
    message: str


class RunFollower:
    def __init__(self, path: str | os.PathLike, *, max_read: int = DEFAULT_MAX_READ):
        # A run folder, or its metrics.jsonl. A folder that does not exist yet (followed before the run starts)
        # is a folder too: its metrics.jsonl is waited for, not the folder path read as the file.
        self.path = metrics_file(path)
        self.max_read = max_read
        self.offset = 0  # bytes of the file consumed, including a buffered partial line
        self.garbage_lines = 0
        self.restarts = 0  # truncations + replacements
        self.notices: list[Notice] = []
        self._partial = b""
        self._skipping_long_line = False
        self._inode: tuple[int, int] | None = None
        self._missing = False
        self._polls = 0
        self._last_growth = None  # time.time() when a poll after the first found new bytes
        self._line_number = 0
        self._last_unreadable: Notice | None = None
        self._reset_summary()

    # ---- what was read, folded (core.runs.reducer) --------------------------------------------------
    def _reset_summary(self) -> None:
        self.state = RunState()

    @property
    def last_final(self) -> Record | None:
        """The last end / stopped / error / diverged record since the latest start (None while it runs)."""
        return self.state.final

    @property
    def heartbeat_s(self) -> float | None:
        return self.state.heartbeat_s

    @property
    def missing(self) -> bool:
        """The file is not there (not written yet, or deleted): nothing of the run can be read now."""
        return self._missing

    def take_notices(self) -> list[Notice]:
        notices, self.notices = self.notices, []
        return notices

    # ---- reading -------------------------------------------------------------------------------------
    def _restart(self, kind: str, message: str) -> None:
        self.notices.append(Notice(kind, message))
        self.restarts += 1
        self.offset = 0
        self._partial = b""
        self._skipping_long_line = False
        self._line_number = 0
        self._reset_summary()

    def poll(self) -> list[Record]:
        """The records completed since the last poll (possibly none)."""
        self._polls += 1
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing:
                self._missing = True
                self.notices.append(Notice("missing", f"{self.path}: the file is gone (deleted or renamed); "
                                                      "waiting for it to come back"))
            return []
        except OSError as exc:
            self._unreadable(f"cannot read it ({exc.strerror or exc})")
            return []
        if not stat.S_ISREG(st.st_mode):
            self._unreadable("not a regular file (a named pipe, a device or a folder); it is not read")
            return []
        self._last_unreadable = None
        inode = (st.st_dev, st.st_ino)
        if self._missing:  # whatever came back is a new file, even if it got the old inode number
            self._missing = False
            self._restart("reappeared", f"{self.path}: the file is back; reading it from the start")
        elif self._inode is not None and inode != self._inode:
            self._restart("replaced", f"{self.path}: the file was replaced by another; reading it from the start")
        elif st.st_size < self.offset:
            self._restart("truncated", f"{self.path}: the file got shorter ({st.st_size} < {self.offset} bytes); "
                                       "reading it from the start")
        self._inode = inode
        if st.st_size == self.offset:
            return []
        try:  # a regular file only: a FIFO or a device planted as metrics.jsonl is never opened
            with open_regular(self.path) as fh:
                fh.seek(self.offset)
                chunk = fh.read(min(st.st_size - self.offset, self.max_read))
        except SmallFileError as exc:
            self._unreadable(exc.reason)
            return []
        except OSError as exc:
            self._unreadable(f"cannot read it ({exc.strerror or exc})")
            return []
        if chunk and self._polls > 1:
            self._last_growth = time.time()
        self.offset += len(chunk)
        return self._split(chunk)

    def _split(self, chunk: bytes) -> list[Record]:
        records = []
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # the bytes after the last newline: a line still being written
        for line in lines:
            self._line_number += 1
            if self._skipping_long_line:  # the end of an over-long line
                self._skipping_long_line = False
                continue
            if not line.strip():
                continue
            try:
                record = decode(line)
            except RecordError as exc:
                self._garbage(str(exc), self._line_number)
                continue
            self.state.add(record)
            records.append(record)
        if len(self._partial) > MAX_LINE_BYTES:
            if not self._skipping_long_line:  # one over-long line counts once, however long it grows
                self._garbage(f"a line longer than {MAX_LINE_BYTES} bytes (binary data?)", self._line_number + 1)
            self._partial = b""
            self._skipping_long_line = True
        return records

    def _unreadable(self, why: str) -> None:
        """Said once while the file stays unreadable (a poll every 300 ms must not flood the log)."""
        notice = Notice("unreadable", f"{self.path}: {why}")
        if notice != self._last_unreadable:
            self.notices.append(notice)
        self._last_unreadable = notice

    def _garbage(self, why: str, line_number: int) -> None:
        self.garbage_lines += 1
        if self.garbage_lines <= 20:  # the count goes on; the messages stop flooding
            self.notices.append(Notice("garbage", f"{self.path}: line {line_number}: skipped ({why})"))

    # ---- state ---------------------------------------------------------------------------------------
    def status(self, now: float | None = None) -> str:
        """One of core.runs.reducer.STATUSES: waiting (no record yet, or the file is gone until it comes back)
        or what the records read so far say. A run with no final record is alive while records keep coming:
        the last record's own time, or new bytes this follower saw arrive, within the reducer's silence limit
        of `now` (wall-clock)."""
        if self._missing:  # not written yet, or deleted: whatever was read of it no longer describes the folder
            return WAITING
        return self.state.status(time.time() if now is None else now, activity_at=self._last_growth)
