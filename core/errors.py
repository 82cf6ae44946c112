"""Failures by kind, translated once at the edges (the CLI's main, the GUI's training worker).

`describe_failure(exc)` turns an exception into one sentence a user can act on: which setting to change
(out of memory: batch size, image size, model) or which file could not be written and why (full disk,
quota, permissions). Kinds are recognised by type and errno, not by the wording of one library's message.
"""
from __future__ import annotations

import errno
import os

_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory", "defaultcpuallocator",
                "failed to allocate")
_DISK_FULL = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded"}
OOM_ADVICE = "lower the batch size or the image size, or pick a smaller model"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _memory_error_types() -> tuple[type, ...]:
    kinds: list[type] = [MemoryError]  # numpy's _ArrayMemoryError is a MemoryError
    try:
        import torch

        kinds.append(torch.cuda.OutOfMemoryError)
        if hasattr(torch, "OutOfMemoryError"):
            kinds.append(torch.OutOfMemoryError)
    except ImportError:
        pass
    return tuple(kinds)


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, _memory_error_types()):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    return isinstance(exc, RuntimeError) and any(p in str(exc).lower() for p in _OOM_PHRASES)


def disk_problem(exc: BaseException) -> OSError | None:
    """The OSError behind `exc` (itself or an explicit cause), when there is one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            return exc
        exc = exc.__cause__
    return None


def describe_oserror(exc: OSError, file: str | os.PathLike | None = None) -> str:
    name = exc.filename or file
    where = f"writing {name}" if name else "reading or writing a file"
    if exc.errno in _DISK_FULL:
        return f"{_DISK_FULL[exc.errno]} while {where}; free some space (or pick another --out folder) and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission for {name or 'a file'} ({exc.strerror}); pick a folder you can write to"
    reason = exc.strerror or _first_line(exc)
    return f"{reason}: {name}" if name else reason


def describe_failure(exc: BaseException, context: dict | None = None) -> str | None:
    """A one-line, actionable message for known kinds of failure; None for anything else.
    `context` may name the file being written ({"file": path}) when the error itself does not."""
    context = context or {}
    from core.io.load_messages import gives_unsafe_advice, loader_reason

    if gives_unsafe_advice(str(exc)):  # a loader's refusal: never pass on its advice to unpickle
        return f"a file was refused: {loader_reason(exc)}"
    if is_out_of_memory(exc) and context.get("file"):  # reading a file, not training: the batch size is not it
        return f"not enough memory to read {context['file']}; it is too large (or not the file it seems)"
    if is_out_of_memory(exc):
        return f"out of memory ({_first_line(exc)}); {OOM_ADVICE}"
    os_error = disk_problem(exc)
    if os_error is not None:
        return describe_oserror(os_error, context.get("file"))
    return None
