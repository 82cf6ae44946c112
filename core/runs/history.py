"""A run's whole history read from its metrics.jsonl, for a reader that wants all of it at once (the metrics
CSV, the TensorBoard export, a script) rather than what is new (core.runs.follower).

- `LineageReader(run)`: every record in the current lineage (core.runs.reducer): each step and each epoch
  once, the newest lineage winning. The file is read twice, a chunk at a time (its resume records first,
  then everything), so a metrics file of several GB never sits in memory; both passes stop where the file
  ended when reading began, so a run that is still writing gives one consistent snapshot.
- `fold(run)`: the run's RunState from its whole file.
- `last_record(run, wanted)`: the newest record that `wanted` accepts, read from the end backwards.

Lines that are not records are skipped and counted, as the follower skips them.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from core.io.small_files import SmallFileError, open_regular
from core.progress import NO_PROGRESS, Progress, share
from core.runs.layout import metrics_file
from core.runs.records import Record, RecordError, decode
from core.runs.reducer import Lineage, RunState, rewind_of

CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20  # a "line" longer than this is garbage (a binary file without newlines)
RESUME_MARKER = b'"resume"'


def _lines(path: Path, end: int, progress: Progress = NO_PROGRESS) -> Iterator[tuple[int, bytes | None]]:
    """(offset, line) of every complete line in the first `end` bytes; None for a line too long to be a
    record (its bytes are skipped, never held). `progress` hears the bytes read, a chunk at a time."""
    with _open(path) as fh:
        offset, partial, skipping = 0, b"", False
        while offset < end:
            progress.update(offset, end, f"reading {path.name}")
            progress.check_cancelled()
            chunk = fh.read(min(CHUNK_BYTES, end - offset))
            if not chunk:
                break
            if not chunk.strip(b"\0"):  # zeros: a hole of a sparse file (a crafted 8 GB one) is skipped, not read
                skip_to = min(_next_data(fh, offset + len(chunk)), end)
                if partial or not skipping:
                    yield offset - len(partial), None  # the zeros and what stood before them: one garbage line
                offset, partial, skipping = skip_to, b"", True
                fh.seek(offset)
                continue
            data = partial + chunk
            start = offset - len(partial)
            offset += len(chunk)
            lines = data.split(b"\n")
            partial = lines.pop()
            for line in lines:
                if skipping:
                    skipping = False  # the end of an over-long line
                elif line.strip():
                    yield start, line
                start += len(line) + 1
            if len(partial) > MAX_LINE_BYTES:
                if not skipping:
                    yield start, None
                partial, skipping = b"", True


def _next_data(fh, offset: int) -> int:
    """Where the file's next data starts at or after `offset` (its end when only a hole follows); `offset`
    itself where the system cannot tell."""
    try:
        return os.lseek(fh.fileno(), offset, os.SEEK_DATA)
    except OSError as exc:
        return os.fstat(fh.fileno()).st_size if exc.errno == errno.ENXIO else offset
    except AttributeError:  # no SEEK_DATA on this system
        return offset


def _open(path: Path):
    """The file opened by the safe open (a regular file only: a FIFO or a device planted as metrics.jsonl is
    never opened); its refusal as an OSError naming the file, which these readers' callers handle."""
    try:
        return open_regular(path)
    except SmallFileError as exc:
        if exc.kind == "missing":
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path)) from None
        raise OSError(errno.EINVAL, exc.reason, str(path)) from None


def _size(path: Path) -> int:
    with _open(path) as fh:
        return os.fstat(fh.fileno()).st_size


class LineageReader:
    """Iterating gives the records of the current lineage in file order; `garbage_lines` counts what was
    skipped. Raises OSError (FileNotFoundError naming the file) when the file cannot be read."""

    def __init__(self, run: str | os.PathLike, progress: Progress = NO_PROGRESS):
        self.path = metrics_file(run)
        self.garbage_lines = 0
        self.progress = progress  # the two passes: finding the resumes is the quick first fifth of the bar

    def _rewinds(self, end: int) -> list:
        found = []
        for offset, line in _lines(self.path, end, share(self.progress, 0.0, 0.2)):
            if line is None or RESUME_MARKER not in line:
                continue
            try:
                rewind = rewind_of(decode(line))
            except RecordError:
                continue
            if rewind is not None:
                found.append((offset, rewind))
        return found

    def __iter__(self) -> Iterator[Record]:
        self.garbage_lines = 0
        end = _size(self.path)
        lineage = Lineage(self._rewinds(end))
        for offset, line in _lines(self.path, end, share(self.progress, 0.2, 1.0)):
            try:
                record = decode(line) if line is not None else None
            except RecordError:
                record = None
            if record is None:
                self.garbage_lines += 1
            elif lineage.keeps(offset, record):
                yield record


def fold(run: str | os.PathLike) -> RunState:
    """The RunState of a run's whole metrics file (one pass; raises OSError when it cannot be read)."""
    path = metrics_file(run)
    state = RunState()
    for _, line in _lines(path, _size(path)):
        try:
            record = decode(line) if line is not None else None
        except RecordError:
            continue
        if record is not None:
            state.add(record)
    return state


def last_record(run: str | os.PathLike, wanted: Callable[[Record], bool], *,
                max_bytes: int = 64 << 20) -> Record | None:
    """The newest record that `wanted` accepts, reading the file backwards a chunk at a time (at most its last
    `max_bytes`); None when there is none, or the file cannot be read."""
    path = metrics_file(run)
    try:
        with _open(path) as fh:
            end = fh.seek(0, os.SEEK_END)
            stop = max(0, end - max_bytes)
            tail = b""
            while end > stop:
                start = max(stop, end - CHUNK_BYTES)
                fh.seek(start)
                data = fh.read(end - start) + tail
                lines = data.split(b"\n")
                tail = lines.pop(0) if start > stop else b""  # may be cut: completed by the chunk before it
                for line in reversed(lines):
                    if line.strip() and (record := _decoded(line)) is not None and wanted(record):
                        return record
                end = start
    except OSError:
        return None
    return None


def _decoded(line: bytes) -> Record | None:
    try:
        return decode(line)
    except RecordError:
        return None
