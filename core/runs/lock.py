"""Who owns a run folder: one writer at a time, and a new run never mixes with an old one.

The writer holds an exclusive `flock` on `<run>/.lock` for as long as it trains. The lock dies with its
process (kill -9 included), so a stale lock never blocks anyone; the pid and host written inside only
make the refusal message useful. A new run into a folder that already holds a run is refused unless the
caller resumes it or asks to overwrite, and overwriting moves the old files into `previous-<time>/`:
nothing is ever deleted.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; ownership is then not enforced
    fcntl = None

from core.errors import LayerscopeError
from core.io.atomic import open_folder, remove_stale_temps
from core.io.small_files import Obj, SmallFileError, parse_json
from core.runs.layout import PREVIOUS_PREFIX, RunLayout


class RunFolderError(LayerscopeError):
    """The run folder cannot be used as asked; the message names it and says what to do."""


class RunLock:
    """An exclusive lock on a run folder, held until `release()` (or the process ends).

    The lock file is opened without following a link (O_NOFOLLOW), non-blocking (a FIFO planted as .lock
    cannot hang the open) and must be a plain file with one name: a shared folder's .lock linked to a file
    elsewhere is refused, never truncated. Its contents are replaced only once the lock is held."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunLock":
        fd = _open_lock_file(RunLayout(self.folder).lock)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_owner(fd, RunLayout(self.folder).lock)
                os.close(fd)
                raise RunFolderError(
                    f"{self.folder} is being written by another training process ({owner}); wait for it to end "
                    "or stop it, or pick another --out folder") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # held now: the file is ours (checked plain, one name, no link)
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


_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_lock_file(path: Path) -> int:
    """A descriptor of the run folder's lock file: created when missing, never through a link, only a plain
    file with no other name (a hard link to a file elsewhere would be truncated with it)."""
    try:
        fd = os.open(path, _LOCK_FLAGS, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFolderError(f"{path} is a symbolic link; Layerscope does not write through a link in a run "
                                 "folder. Remove it (it may point at a file outside the folder)") from None
        raise RunFolderError(f"{path.parent}: cannot create its lock file ({exc.strerror})") from None
    st = os.fstat(fd)
    problem = ("is not a plain file" if not stat.S_ISREG(st.st_mode) else
               "has other names (a hard link)" if st.st_nlink > 1 else None)
    if problem:
        os.close(fd)
        raise RunFolderError(f"{path} {problem}; Layerscope does not use it as a lock file. Remove it "
                             "(it may stand for a file outside the folder)")
    return fd


_OWNER = Obj(required={"pid": int, "host": str})


def _read_owner(fd: int, path: Path) -> str:
    try:
        info = parse_json(os.pread(fd, 4096, 0) or b"{}", path, schema=_OWNER)
        return f"pid {info['pid']} on {info['host'][:100]}"
    except (OSError, SmallFileError):
        return "pid unknown"


def used_run_files(folder: str | os.PathLike) -> list[str]:
    return RunLayout(folder).used_files()


def move_previous_run_aside(folder: str | os.PathLike) -> Path | None:
    """Move every artefact of the run in `folder` (core.runs.layout.ARTEFACTS: its records, checkpoints,
    settings, evaluations, dossier, probes, layer health, TensorBoard events, rank files...) into a new
    previous-<time>/ inside it; returns that folder (None if there was nothing). Entries move by name inside
    the folder (a link moves as the link, never what it points to), into a folder created here and opened
    without following a link."""
    folder = Path(folder)
    layout = RunLayout(folder)
    names = layout.artefacts()
    if not names:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        dir_fd = open_folder(folder, create=False)
        try:
            target, target_fd = _new_previous_folder(dir_fd, layout, stamp)
            try:
                for name in names:
                    os.rename(name, name, src_dir_fd=dir_fd, dst_dir_fd=target_fd)
            finally:
                os.close(target_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot move the earlier run's files aside "
                             f"({exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''})") from None
    return target


def _new_previous_folder(dir_fd: int, layout: RunLayout, stamp: str) -> tuple[Path, int]:
    """A new, empty previous-<stamp>[-n]/ made here (never one that exists, which may be a planted link)."""
    for n in range(1, 1000):
        target = layout.previous(stamp, n)
        try:
            os.mkdir(target.name, 0o777, dir_fd=dir_fd)
        except FileExistsError:
            continue
        return target, os.open(target.name, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0),
                               dir_fd=dir_fd)
    raise FileExistsError(errno.EEXIST, "no free name for the earlier run's folder", str(layout.previous(stamp)))


def claim_run_folder(folder: str | os.PathLike, *, resuming_here: bool, overwrite: bool = False) -> RunLock:
    """Lock `folder` for this process and make it ready for a run.

    resuming_here: this run continues the run stored in this folder (its files stay).
    overwrite: a new run may take a folder that holds another run; every artefact of it (core.runs.layout
    ARTEFACTS) moves to previous-<time>/, so nothing old is taken for the new run's or appended to. Temp files of saves interrupted by an earlier kill are removed once the lock is ours.
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
