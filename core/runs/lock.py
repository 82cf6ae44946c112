"""Who owns a run folder: one writer at a time, and a new run never mixes with an old one.

The writer holds an exclusive `flock` on `<run>/.lock` for as long as it trains. The lock dies with its
process (kill -9 included), so a stale lock never blocks anyone; the pid and host written inside only
make the refusal message useful. A new run into a folder that already holds a run is refused unless the
caller resumes it or asks to overwrite, and overwriting moves the old files into `previous-<time>/`:
nothing is ever deleted.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; ownership is then not enforced
    fcntl = None

from core.errors import LayerscopeError
from core.io.atomic import remove_stale_temps
from core.runs.layout import PREVIOUS_PREFIX, RunLayout


class RunFolderError(LayerscopeError):
    """The run folder cannot be used as asked; the message names it and says what to do."""


class RunLock:
    """An exclusive lock on a run folder, held until `release()` (or the process ends)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        path = RunLayout(self.folder).lock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise RunFolderError(f"{self.folder}: cannot create its lock file ({exc.strerror})") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_owner(fd)
                os.close(fd)
                raise RunFolderError(
                    f"{self.folder} is being written by another training process ({owner}); wait for it to end "
                    "or stop it, or pick another --out folder") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    def __del__(self):
        self.release()


def _read_owner(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def used_run_files(folder: str | os.PathLike) -> list[str]:
    return RunLayout(folder).used_files()


def move_previous_run_aside(folder: str | os.PathLike) -> Path | None:
    """Move the run files into previous-<time>/ inside the folder; returns that folder (None if nothing)."""
    folder = Path(folder)
    names = used_run_files(folder)
    if not names:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 1
    target = RunLayout(folder).previous(stamp)
    while target.exists():
        n += 1
        target = RunLayout(folder).previous(stamp, n)
    target.mkdir()
    for name in names:
        os.replace(folder / name, target / name)
    return target


def claim_run_folder(folder: str | os.PathLike, *, resuming_here: bool, overwrite: bool = False) -> RunLock:
    """Lock `folder` for this process and make it ready for a run.

    resuming_here: this run continues the run stored in this folder (its files stay).
    overwrite: a new run may take a folder that holds another run; its files move to previous-<time>/.
    Temp files of saves interrupted by an earlier kill are removed once the lock is ours.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot create the run folder ({exc.strerror})") from None
    lock = RunLock(folder).acquire()
    try:
        remove_stale_temps(folder)
        used = used_run_files(folder)
        if used and not resuming_here:
            if not overwrite:
                raise RunFolderError(
                    f"{folder} already holds a run ({', '.join(used)}). Resume it with --resume "
                    f"{RunLayout(folder).last_checkpoint}, pick another --out folder, or pass --overwrite to move the "
                    f"old files into a {PREVIOUS_PREFIX}<time>/ folder inside it")
            move_previous_run_aside(folder)
    except BaseException:
        lock.release()
        raise
    return lock
