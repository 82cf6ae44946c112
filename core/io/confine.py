"""The one confinement rule for paths and class names taken from a file in a folder (dataset or run).

A corrections file, a move log or an evaluation's per_image.csv in a shared folder names files; a crafted one
names `../../.ssh/id_rsa`, `/etc/passwd` or a class `../x`. Every path and label read from such a file goes
through `inside` or `class_name` here, which refuse (ConfinementError naming the file and the entry) anything
that would leave the folder: absolute paths, `..`, a link on the way that points out, separators or `.`/`..`
in a class name, NUL or control characters.
"""
from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.errors import LayerscopeError

MAX_NAME_BYTES = 255  # one path component on every common filesystem


class ConfinementError(LayerscopeError, ValueError):
    """A path or label from a file that would leave its folder. `source` is the file it came from (or None),
    `entry` the value as written, `reason` why it is refused."""

    def __init__(self, entry, reason: str, source: str | os.PathLike | None = None):
        self.entry, self.reason = entry, reason
        self.source = str(source) if source is not None else None
        shown = repr(entry)[:120]
        super().__init__(f"{self.source}: entry {shown}: {reason}" if self.source else f"{shown}: {reason}")


# Unicode's control characters (category Cc: C0, DEL, C1; NUL, newline and ESC among them) and lone surrogates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _control_character(text: str) -> str | None:
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def relative_parts(relative, *, source=None) -> tuple[str, ...]:
    """The components of a relative path as written in a file ('/' separates them), checked lexically."""
    if not isinstance(relative, str):
        raise ConfinementError(relative, f"a path must be text, not {type(relative).__name__}", source)
    if not relative.strip():
        raise ConfinementError(relative, "an empty path", source)
    bad = _control_character(relative)
    if bad:
        raise ConfinementError(relative, f"a control character ({bad}) in a path", source)
    if relative.startswith(("/", "\\")) or PureWindowsPath(relative).drive or PurePosixPath(relative).is_absolute():
        raise ConfinementError(relative, "an absolute path; only paths inside the folder are used", source)
    parts = tuple(p for p in relative.replace("\\", "/").split("/") if p not in ("", "."))
    if ".." in parts:
        raise ConfinementError(relative, "a path with '..'; only paths inside the folder are used", source)
    if not parts:
        raise ConfinementError(relative, "the folder itself, not a file in it", source)
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise ConfinementError(relative, f"a name longer than {MAX_NAME_BYTES} bytes", source)
    return parts


def inside(folder: str | os.PathLike, relative, *, source: str | os.PathLike | None = None) -> Path:
    """`folder / relative`, refused unless it stays inside `folder` after every link on the way is resolved.
    `relative` is a path as a file wrote it; `source` names that file in the message."""
    parts = relative_parts(relative, source=source)
    root = Path(folder).resolve()
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a link loop on the way
        raise ConfinementError(relative, f"cannot be resolved ({exc})", source) from None
    if resolved != root and root not in resolved.parents:
        raise ConfinementError(relative, f"leads outside {root} (through a link)", source)
    return Path(folder).joinpath(*parts)


def class_name(label, *, source: str | os.PathLike | None = None) -> str:
    """`label` when it can name a class folder: text, not empty, not '.' or '..', no separator, no control
    character, not hidden, not too long. Refused otherwise (ConfinementError naming `source`)."""
    if not isinstance(label, str):
        raise ConfinementError(label, f"a class name must be text, not {type(label).__name__}", source)
    if not label.strip():
        raise ConfinementError(label, "an empty class name", source)
    if label in (".", ".."):
        raise ConfinementError(label, f"'{label}' is not a class name", source)
    if "/" in label or "\\" in label or (os.altsep and os.altsep in label):
        raise ConfinementError(label, "a class name with a path separator", source)
    if label.startswith("."):  # hidden folders are not classes (and .layerscope-excluded is the app's own)
        raise ConfinementError(label, "a hidden name (starting with '.') is not a class name", source)
    bad = _control_character(label)
    if bad:
        raise ConfinementError(label, f"a control character ({bad}) in a class name", source)
    if len(label.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ConfinementError(label, f"a class name longer than {MAX_NAME_BYTES} bytes", source)
    return label
