"""The one writer for dataset and run folders: whole files appear atomically (temp + rename) with the normal
umask mode, appended records are whole lines, every OSError names the file it was about, and no write ever
follows a link.

Why here and not at each call site: a full disk, a kill or a second Ctrl+C must leave the same guarantees
for checkpoints, config.json and metrics.jsonl alike; and a shared folder may have links planted where the app
writes (the temp file, the file itself, a folder on the way) to make an ordinary write land outside it.

Links: the folders from `inside` (the dataset or run folder, which the user chose and may itself be a link)
down to the file are opened one by one with O_NOFOLLOW and used through their descriptors, so none can be a
link or be swapped for one; temp files are created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW) with random
names; the file written or appended to must not be a link. Any link on the way is a LinkRefused naming it.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterable

from core.errors import LayerscopeError
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


class LinkRefused(LayerscopeError, OSError):
    """A symbolic link (or something else that is not a plain folder or file) where the app writes."""

    def __init__(self, path: str | os.PathLike, what: str = "a symbolic link"):
        super().__init__(errno.ELOOP, f"{what}; Layerscope does not write through a link or into anything but "
                                      "a plain folder here", str(path))


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _split(path: Path, inside: str | os.PathLike | None) -> tuple[Path, tuple[str, ...]]:
    """(root, folder names from root to the file's folder). The file's own folder is the root by default."""
    if inside is None:
        return path.parent, ()
    root = Path(inside)
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        raise ValueError(f"{path} is not inside {root}") from None
    if ".." in parts:
        raise ValueError(f"{path} is not inside {root}")
    return root, parts


def open_folder(root: str | os.PathLike, parts: tuple[str, ...] = (), *, create: bool = True) -> int:
    """A descriptor of root/parts[0]/.../parts[-1], each part opened without following a link (created when
    missing and `create`). `root` itself may be a link (the user chose it). The caller closes it."""
    root = Path(root)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIR_FLAGS)
    here = root
    try:
        for part in parts:
            here = here / part
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refusal(fd, part, here) from None
                raise naming(exc, here) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refusal(dir_fd: int, name: str, path: Path) -> OSError:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    if stat.S_ISLNK(mode):
        return LinkRefused(path)
    return LinkRefused(path, "not a folder" if not stat.S_ISREG(mode) else "a file where a folder belongs")


def _check_target(dir_fd: int, name: str, path: Path) -> None:
    """The file about to be replaced or appended to must be a plain file (or not exist yet)."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise LinkRefused(path)
    if not stat.S_ISREG(mode):
        raise LinkRefused(path, "not a regular file")


def _exclusive_temp(dir_fd: int, final_name: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = f"{temp_name_prefix(final_name)}{secrets.token_hex(6)}{TEMP_SUFFIX}"
        try:
            return os.open(name, flags, 0o666, dir_fd=dir_fd), name  # 0o666 & ~umask: like any other file
        except FileExistsError:
            continue  # a planted file (or link) of that name: never opened, another name is drawn
    raise FileExistsError(errno.EEXIST, "no free temp file name", final_name)


def atomic_write(path: str | os.PathLike, write: Callable[[io.RawIOBase], None], *,
                 inside: str | os.PathLike | None = None, sync: bool = True) -> Path:
    """Write `path` through `write(fileobj)` into a temp file beside it, fsync, then rename over `path`.
    `inside`: the dataset or run folder `path` belongs to; no folder between it and `path` may be a link
    (default: only the file's own folder is trusted). `path` itself must not be a link (LinkRefused).
    The temp is removed on any failure; an OSError (full disk, quota, permissions) names `path`. A second
    signal arriving meanwhile waits until the file is complete (see core.io.signals). sync=False skips the
    fsync: only for caches, whose files are made again when a crash loses them (thousands of thumbnails
    would otherwise wait for the disk one by one); the rename still never shows half a file."""
    path = Path(path)
    root, parts = _split(path, inside)
    with interrupts.protected():
        try:
            dir_fd = open_folder(root, parts)
        except OSError as exc:
            raise naming(exc, path) from exc
        try:
            _write_in(dir_fd, path, write, sync)
        finally:
            os.close(dir_fd)
    return path


def _write_in(dir_fd: int, path: Path, write: Callable[[io.RawIOBase], None], sync: bool = True) -> None:
    try:
        _check_target(dir_fd, path.name, path)
        fd, tmp = _exclusive_temp(dir_fd, path.name)
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
        _check_target(dir_fd, path.name, path)  # a link planted while writing is refused, not replaced
        os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        kept = writer.error if writer is not None else None
        if kept is not None and not isinstance(exc, OSError):
            raise naming(kept, path) from exc
        if isinstance(exc, OSError):
            raise naming(exc, path) from exc
        raise


def write_text_atomic(path: str | os.PathLike, text: str, *, inside: str | os.PathLike | None = None) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")), inside=inside)


def write_csv_atomic(path: str | os.PathLike, header: list[str], rows: Iterable[Iterable], *,
                     inside: str | os.PathLike | None = None) -> Path:
    """A CSV file (UTF-8, the csv module's own line endings) written atomically: a header row, then `rows`."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, text.getvalue(), inside=inside)


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def open_append(path: str | os.PathLike, *, inside: str | os.PathLike | None = None) -> int:
    """A descriptor for appending to `path` (created when missing; opened O_APPEND | O_NOFOLLOW | O_NONBLOCK,
    readable to see the last byte): only a regular file, never through a link (LinkRefused naming it);
    `inside` as for atomic_write. A file with other names (a hard link: a backup's snapshot, or a file outside
    the folder) is first replaced by a copy of its own, so those names never change. The caller closes it.
    append_lines and a job's launcher.log use it."""
    path = Path(path)
    root, parts = _split(path, inside)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        dir_fd = open_folder(root, parts)
        try:
            fd = _open_own(dir_fd, path, flags)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise naming(exc, path) from exc
    return fd


def _open_own(dir_fd: int, path: Path, flags: int) -> int:
    try:
        fd = os.open(path.name, flags, 0o666, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LinkRefused(path) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device planted under the name
        os.close(fd)
        raise LinkRefused(path, "not a regular file")
    if st.st_nlink > 1:  # appending would change the file's other names too, maybe outside the folder
        try:
            _write_in(dir_fd, path, lambda out: _copy(fd, out))  # a new file under this name only
        finally:
            os.close(fd)
        return _open_own(dir_fd, path, flags & ~os.O_CREAT)
    return fd


def _copy(fd: int, out) -> None:
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        out.write(chunk)
        offset += len(chunk)


def append_lines(path: str | os.PathLike, lines: Iterable[str], *, inside: str | os.PathLike | None = None) -> None:
    """Append whole lines with one write on an O_APPEND descriptor, so concurrent readers and a failed
    write never see two records glued together: a partial line left by an earlier failure (full disk) is
    closed with a newline first, and readers skip it as unparseable. Only a regular file is appended to,
    opened without following a link (LinkRefused otherwise); `inside` as for atomic_write."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if not data:
        return
    path = Path(path)
    fd = open_append(path, inside=inside)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device planted under the name
            raise LinkRefused(path, "not a regular file")
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


def move_within(root: str | os.PathLike, source: tuple[str, ...], target: tuple[str, ...]) -> Path:
    """Move root/source to root/target inside one folder (a dataset): no folder on either way may be a link
    (the target's folders are created), the source must be a plain file or a link (the link itself moves,
    never what it points to), and the target is never replaced (FileExistsError naming it). Returns the
    target's path."""
    root = Path(root)
    src_path, dst_path = root.joinpath(*source), root.joinpath(*target)
    src_dir = open_folder(root, source[:-1], create=False)
    try:
        dst_dir = open_folder(root, target[:-1])
        try:
            mode = os.stat(source[-1], dir_fd=src_dir, follow_symlinks=False).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                raise LinkRefused(src_path, "not a regular file")
            _move_no_replace(src_dir, source[-1], dst_dir, target[-1], dst_path)
        finally:
            os.close(dst_dir)
    except OSError as exc:
        raise naming(exc, src_path) from exc
    finally:
        os.close(src_dir)
    return dst_path


def _move_no_replace(src_dir: int, src: str, dst_dir: int, dst: str, dst_path: Path) -> None:
    """A hard link then an unlink: link() fails if the target exists, so nothing is ever replaced. Where the
    filesystem has no hard links (FAT, exFAT), a rename after checking the name is free."""
    try:
        os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "the name is taken; nothing is replaced", str(dst_path)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if _exists(dst_dir, dst):
            raise FileExistsError(errno.EEXIST, "the name is taken; nothing is replaced", str(dst_path)) from None
        os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        return
    os.unlink(src, dir_fd=src_dir)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def exists_in(root: str | os.PathLike, parts: tuple[str, ...]) -> bool:
    """Whether root/parts names anything (a link counts, and is not followed), looked up without following a
    link on the way; False when a folder on the way is missing or is a link."""
    try:
        fd = open_folder(root, parts[:-1], create=False)
    except OSError:
        return False
    try:
        return _exists(fd, parts[-1])
    finally:
        os.close(fd)


def write_new_file(root: str | os.PathLike, parts: tuple[str, ...], data: bytes) -> Path:
    """Create root/parts as a new file holding `data`: the folders on the way must exist and none may be a
    link (LinkRefused), the file is created exclusively (FileExistsError when the name is taken, a link
    included) and fsynced. For adding a file to a dataset without ever replacing or writing through one."""
    path = Path(root).joinpath(*parts)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        dir_fd = open_folder(root, parts[:-1], create=False)
        try:
            fd = os.open(parts[-1], flags, 0o666, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise naming(exc, path) from exc
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise naming(exc, path) from exc
    finally:
        os.close(fd)
    return path
