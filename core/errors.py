"""One error root, one Cancelled, and failures translated once at the edges (the CLI's main, the GUI's
background tasks and training worker).

`LayerscopeError` is the base of every error whose message is written for the user (a dataset that cannot be
read, a checkpoint that does not fit, a setting out of range): the edges show its message as it is. Anything
else is a bug, shown as a short "internal error" with the traceback in the log. `user_message(exc)` is that
decision, in one place. Each error class keeps its other bases (ValueError, OSError, ...) where callers catch
it by those.

`Cancelled` is not an error: a long pass stops because nobody wants its result any more (core.progress).

`describe_failure(exc)` turns an exception into one sentence a user can act on: which setting to change
(out of memory: batch size, image size, model) or which file could not be written and why (full disk,
quota, permissions). Kinds are recognised by type and errno, not by the wording of one library's message.

Torch-free and cheap to import: core.catalog and the GUI import it before torch has loaded.
"""
from __future__ import annotations

import errno
import os
import re
import sys


class LayerscopeError(Exception):
    """Base of every user-facing error: its message says what went wrong and what to do, and is shown as is."""


class Cancelled(Exception):
    """A long pass (decode, health scan, evaluation, a background job) was cancelled or superseded."""


_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory", "defaultcpuallocator",
                "failed to allocate")
_DISK_FULL = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded"}
OOM_ADVICE = "lower the batch size or the image size, or pick a smaller model"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _memory_error_types() -> tuple[type, ...]:
    kinds: list[type] = [MemoryError]  # numpy's _ArrayMemoryError is a MemoryError
    # torch only when it is loaded already: no torch error can exist otherwise, and this module stays torch-free
    # (core.catalog and core.runs import it; their contracts forbid torch).
    torch = sys.modules.get("torch")
    if torch is not None:
        kinds += [t for t in (getattr(torch.cuda, "OutOfMemoryError", None), getattr(torch, "OutOfMemoryError", None))
                  if isinstance(t, type)]
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


# ---- a loader's refusal, without its advice to load unsafely ----------------------------------------------
# torch's weights-only refusal says "Re-running torch.load with weights_only set to False will likely succeed",
# numpy's says "... when allow_pickle=False": both invite unpickling, which runs code from the file. Layerscope
# never passes that advice on: `loader_reason(exc)` says what the file holds instead.
_UNSAFE_ADVICE = ("weights_only", "weights only load failed", "allow_pickle", "pickle")
_GLOBAL = re.compile(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL)\s+([\w.]+)")
REFUSED = ("it holds Python objects{what}, not only plain tensors and numbers; Layerscope never unpickles a file, "
           "because that could run code from it")


def gives_unsafe_advice(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _UNSAFE_ADVICE)


def loader_reason(exc: BaseException, limit: int = 200) -> str:
    """The first line of a loader's error, or, when it advises unsafe loading, what the file holds instead."""
    text = str(exc).strip()
    if gives_unsafe_advice(text):
        found = _GLOBAL.search(text)
        return REFUSED.format(what=f" ({found.group(1)})" if found else "")
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:limit]


def describe_failure(exc: BaseException, context: dict | None = None) -> str | None:
    """A one-line, actionable message for known kinds of failure; None for anything else.
    `context` may name the file being written ({"file": path}) when the error itself does not."""
    context = context or {}
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


def user_message(exc: BaseException) -> str | None:
    """The message to show a user for `exc`: a LayerscopeError's own, or a sentence for a known kind of failure
    (out of memory, a disk or permission problem); None when `exc` is a bug (show "internal error", log it)."""
    if isinstance(exc, LayerscopeError):
        return str(exc).strip() or type(exc).__name__
    return describe_failure(exc)
