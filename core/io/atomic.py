"""Crash-safe file writes for run folders: whole files appear atomically (temp + rename) with the normal
umask mode, appended records are whole lines, and every OSError names the file it was about.

Why here and not at each call site: a full disk, a kill or a second Ctrl+C must leave the same guarantees
for checkpoints, config.json and metrics.jsonl alike.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from core.io import signals as interrupts

TEMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (os.umask is set-and-return)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_name_prefix(final_name: str) -> str:
    """Temp files of an atomic write of `final_name`: '.<name>.<random>.tmp' next to it."""
    return f".{final_name}."


def is_stale_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete temp files left by interrupted atomic writes in `folder` (call only while owning the folder)."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if is_stale_temp(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def naming(exc: OSError, path: str | os.PathLike) -> OSError:
    """The same OSError, with `path` as its filename when it had none (os.write errors carry no name)."""
    if exc.filename is not None:
        return exc
    named = type(exc)(exc.errno, exc.strerror or str(exc), str(path))
    named.__cause__ = exc
    return named


class _ErrorKeepingWriter(io.RawIOBase):
    """Wraps a binary file so the OSError of a failed write survives libraries that turn it into a vague
    RuntimeError (torch.save reports a full disk as 'unexpected pos 603264 vs 603156')."""

    def __init__(self, raw):
        self.raw = raw
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.raw.flush()


def atomic_write(path: str | os.PathLike, write: Callable[[io.RawIOBase], None], *, sync: bool = True) -> Path:
    """Write `path` through `write(fileobj)` into a temp file beside it, fsync, then rename over `path`.
    The temp is removed on any failure; an OSError (full disk, quota, permissions) names `path`. A second
    signal arriving meanwhile waits until the file is complete (see core.io.signals). sync=False skips the
    fsync: only for caches, whose files are made again when a crash loses them (thousands of thumbnails
    would otherwise wait for the disk one by one); the rename still never shows half a file."""
    path = Path(path)
    with interrupts.protected():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=temp_name_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
        except OSError as exc:
            raise naming(exc, path) from exc
        writer = None
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = _ErrorKeepingWriter(fh)
                write(writer)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a run file is like any other
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            kept = writer.error if writer is not None else None
            if kept is not None and not isinstance(exc, OSError):
                raise naming(kept, path) from exc
            if isinstance(exc, OSError):
                raise naming(exc, path) from exc
            raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def write_csv_atomic(path: str | os.PathLike, header: list[str], rows: Iterable[Iterable]) -> Path:
    """A CSV file (UTF-8, the csv module's own line endings) written atomically: a header row, then `rows`."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, text.getvalue())


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def append_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Append whole lines with one write on an O_APPEND descriptor, so concurrent readers and a failed
    write never see two records glued together: a partial line left by an earlier failure (full disk) is
    closed with a newline first, and readers skip it as unparseable."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if not data:
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)  # read: to see the last byte
    except OSError as exc:
        raise naming(exc, path) from exc
    try:
        if not _ends_with_newline(fd):
            data = b"\n" + data
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise naming(exc, path) from exc
    finally:
        os.close(fd)

