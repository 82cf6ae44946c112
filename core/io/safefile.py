"""Open only what is safe to open: regular files, read within a byte budget.

A FIFO named f.png blocks `open()` forever, a symlink to /dev/zero never ends, a symlink loop or a dangling
link fails with an errno nobody reads. So every path is looked at by type first (os.stat, which follows
links; os.lstat tells a dangling link from a missing file), and the file is then opened non-blocking and
checked again on the open descriptor, so a file swapped for a FIFO in between cannot block either.
"""
from __future__ import annotations

import errno
import os
import stat

from core.errors import LayerscopeError


class FileRefused(LayerscopeError):
    """A path that is not read. `kind` is a short tag, `reason` a plain sentence."""

    def __init__(self, path: str | os.PathLike, kind: str, reason: str):
        self.path, self.kind, self.reason = str(path), kind, reason
        super().__init__(f"{self.path}: {reason}")


def _type_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def entry_problem(path: str | os.PathLike) -> tuple[str, str] | None:
    """(kind, reason) when `path` is anything but a regular file (after following links), else None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _stat_problem(path, exc)
    return _mode_problem(st.st_mode)


def _mode_problem(mode: int) -> tuple[str, str] | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "folder", "this is a folder, not a file"
    return "not_regular", f"this is {_type_name(mode)}, not a regular file; it is not opened"


def _stat_problem(path: str | os.PathLike, exc: OSError) -> tuple[str, str]:
    if exc.errno == errno.ELOOP:
        return "symlink_loop", "a symbolic link loop (the link points back to itself)"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return "dangling_link", f"a dangling symbolic link (its target {target} does not exist)"
        return "missing", "the file does not exist"
    if exc.errno == errno.ENAMETOOLONG:
        return "unreadable", "the path is too long"
    return "unreadable", f"the file cannot be read ({exc.strerror or exc})"


def regular_file_size(path: str | os.PathLike) -> int:
    """The size in bytes of a regular file; FileRefused for anything else."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileRefused(path, *_stat_problem(path, exc))
    problem = _mode_problem(st.st_mode)
    if problem:
        raise FileRefused(path, *problem)
    return st.st_size


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """All bytes of a regular file of at most `max_bytes`; FileRefused otherwise. Never blocks on a FIFO."""
    size = regular_file_size(path)
    if size > max_bytes:
        raise FileRefused(path, "file_too_big",
                          f"the file is {_mib(size)}, above the {_mib(max_bytes)} limit for one image")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(path, *_stat_problem(path, exc))
    try:
        problem = _mode_problem(os.fstat(fd).st_mode)  # what was opened, not what was looked at
        if problem:
            raise FileRefused(path, *problem)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since the stat
    except OSError as exc:
        raise FileRefused(path, "unreadable", f"the file cannot be read ({exc.strerror or exc})")
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileRefused(path, "file_too_big", f"the file is above the {_mib(max_bytes)} limit for one image")
    return data


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n:,} bytes"
