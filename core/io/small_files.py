"""The one reader of small files (JSON, JSON lines, CSV) that a folder from elsewhere may hold.

A shared dataset or run folder may hold a FIFO named config.json (open() blocks for ever), a link to /dev/zero
(a read never ends), a sparse file of gigabytes, JSON nested a million deep (RecursionError), an integer of
4,000 digits (OverflowError wherever it meets a float), or the right name with the wrong shape. Every small
file is therefore read here, and only here:

- regular files only, checked on the opened descriptor (opened O_NONBLOCK, so a FIFO cannot block), with
  O_NOFOLLOW where the name itself must not be a link (`no_link=True`);
- a size cap per kind of file, checked before reading and again while reading (a file may grow);
- JSON: strict UTF-8, a depth limit checked before parsing, integers within float range, no NaN/Infinity
  unless the caller maps them to None, and the value checked against a small schema (`Obj`, `ListOf`,
  `MapOf`, or Python types);
- CSV: a cap on each field and on the number of rows.

Anything wrong is one error type, SmallFileError, with the file and the reason: a caller catches it and
loses that file's row or view, never the list. numpy's NPZ members are checked in core.io.small_npz (kept
apart because core.runs, which reads through this module, must not import numpy).
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

from core.errors import LayerscopeError

KIB, MIB = 1 << 10, 1 << 20

# Size caps per kind of file: each far above anything Layerscope writes, far below what hurts.
CAPS = {
    "control": 64 * KIB,  # RUN/control.json
    "rank": 64 * KIB,  # RUN/ranks/rank-N.json
    "lock": 64 * KIB,
    "settings": 1 * MIB,  # train --settings, config.json, run_meta.json
    "summary": 4 * MIB,  # eval/summary.json, probes.json
    "corrections": 16 * MIB,  # DATASET/.layerscope-corrections.json
    "move_log": 16 * MIB,  # DATASET/.layerscope-moves.jsonl
    "table": 256 * MIB,  # per_image.csv, label_issues.csv: one row per image
    "npz": 512 * MIB,
}
MAX_DEPTH = 32  # nothing Layerscope writes nests deeper than 6
MAX_LINE_BYTES = 1 * MIB
MAX_CSV_FIELD = 64 * KIB
MAX_CSV_ROWS = 5_000_000
# The largest integer a float can hold: past it, float(n) raises OverflowError wherever the value goes next.
MAX_INT = int(sys.float_info.max)
_MAX_INT_DIGITS = len(str(MAX_INT)) + 1


class SmallFileError(LayerscopeError, ValueError):
    """A small file that is not read or not used. `path` names it, `reason` says why in plain words, `kind`
    is a short tag: missing, link, folder, not_regular, unreadable, too_big, no_memory, not_text, not_json,
    too_deep, number, schema, csv, npz."""

    def __init__(self, path: str | os.PathLike, reason: str, kind: str = "schema"):
        self.path, self.reason, self.kind = str(path), reason, kind
        super().__init__(f"{self.path}: {reason}")


# ---- bytes -----------------------------------------------------------------------------------------------
def _size_text(n: int) -> str:
    return f"{n / MIB:,.1f} MiB" if n >= MIB else f"{n:,} bytes"


def _type_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_mode(path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = "folder" if stat.S_ISDIR(mode) else "not_regular"
        raise SmallFileError(path, f"this is {_type_name(mode)}, not a regular file; it is not read", kind)


def _open_error(path, exc: OSError, no_link: bool) -> SmallFileError:
    if exc.errno == errno.ELOOP:
        if no_link:
            return SmallFileError(path, "this is a symbolic link; Layerscope does not follow a link here", "link")
        return SmallFileError(path, "a symbolic link loop", "link")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(path):
            return SmallFileError(path, "a dangling symbolic link (its target does not exist)", "link")
        return SmallFileError(path, "the file does not exist", "missing")
    if exc.errno == errno.ENOMEM:
        return SmallFileError(path, "not enough memory to read this file", "no_memory")
    return SmallFileError(path, f"the file cannot be read ({exc.strerror or exc})", "unreadable")


def _check_before_open(path, no_link: bool) -> None:
    """Look at the entry before opening it: some devices act on open (a tape rewinds)."""
    try:
        st = os.lstat(path) if no_link else os.stat(path)
    except OSError as exc:
        raise _open_error(path, exc, no_link) from None
    if no_link and stat.S_ISLNK(st.st_mode):
        raise SmallFileError(path, "this is a symbolic link; Layerscope does not follow a link here", "link")
    _refuse_mode(path, st.st_mode)


def _open_nonblocking(path, no_link: bool) -> int:
    """A read-only descriptor opened so that no FIFO can block it (and, with `no_link`, not through a link)."""
    _check_before_open(path, no_link)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if no_link:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(path, exc, no_link) from None
    return fd


def read_bytes(path: str | os.PathLike, *, max_bytes: int, no_link: bool = False) -> bytes:
    """All bytes of a regular file of at most `max_bytes`; SmallFileError otherwise. Never blocks on a FIFO,
    never reads past the cap. `no_link`: the name itself must not be a symbolic link (O_NOFOLLOW)."""
    fd = _open_nonblocking(path, no_link)
    try:
        st = os.fstat(fd)  # what was opened, not what was looked at
        _refuse_mode(path, st.st_mode)
        if st.st_size > max_bytes:
            raise SmallFileError(path, f"the file is {_size_text(st.st_size)}, above the {_size_text(max_bytes)} "
                                       "limit for this kind of file", "too_big")
        return _read_capped(path, fd, max_bytes)
    except MemoryError:
        raise SmallFileError(path, "not enough memory to read this file", "no_memory") from None
    finally:
        os.close(fd)


def _read_capped(path, fd: int, max_bytes: int) -> bytes:
    chunks, total = [], 0
    while True:
        try:
            chunk = os.read(fd, min(MIB, max_bytes + 1 - total))
        except BlockingIOError:  # a regular file never says "try later"; anything that does is refused
            raise SmallFileError(path, "the file did not answer a read; it is not read", "not_regular") from None
        except OSError as exc:
            raise _open_error(path, exc, False) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise SmallFileError(path, f"the file is above the {_size_text(max_bytes)} limit for this kind of "
                                       "file (it grew while being read)", "too_big")


def open_regular(path: str | os.PathLike, *, no_link: bool = False) -> io.BufferedReader:
    """A binary file object of a regular file, opened as `read_bytes` opens one (the same checks, no FIFO
    can block, a device or folder is refused), for files read a chunk at a time and bounded by the caller:
    metrics.jsonl (core.runs.follower, history, digest), a job's launcher.log. SmallFileError otherwise."""
    fd = _open_nonblocking(path, no_link)
    try:
        _refuse_mode(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_text(path: str | os.PathLike, *, max_bytes: int, no_link: bool = False) -> str:
    """The file as strict UTF-8 text (a leading byte-order mark is dropped)."""
    return decode_text(read_bytes(path, max_bytes=max_bytes, no_link=no_link), path)


def decode_text(data: bytes, path: str | os.PathLike) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SmallFileError(path, f"not UTF-8 text (a bad byte at offset {exc.start}; binary data?)",
                             "not_text") from None


# ---- JSON ------------------------------------------------------------------------------------------------
class _BadNumber(Exception):
    pass


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def _nesting_exceeds(text: str, limit: int) -> bool:
    """True when `text` nests arrays/objects deeper than `limit`, found without recursion: strip strings and
    everything but brackets, then peel innermost pairs once per level (each pass at C speed)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    for _ in range(limit):
        peeled = _INNERMOST.sub("", brackets)  # one level: pairs that were innermost before this pass
        if peeled == brackets or not peeled:
            return False  # fully peeled, or malformed: the parser says what is wrong
        brackets = peeled
    return _INNERMOST.sub("", brackets) != brackets


def _parse_int(digits: str) -> int:
    if len(digits) > _MAX_INT_DIGITS:
        raise _BadNumber(f"an integer of {len(digits):,} digits")
    value = int(digits)
    if abs(value) > MAX_INT:
        raise _BadNumber(f"an integer beyond the range of a float ({digits[:12]}...)")
    return value


def _number_hooks(nonfinite: str):
    def refuse(text: str):
        if nonfinite == "null":
            return None
        raise _BadNumber(f"{text} (not a finite number)")

    def parse_float(text: str):
        value = float(text)
        return value if math.isfinite(value) else refuse(text)

    return parse_float, refuse


def parse_json(data: bytes | str, path: str | os.PathLike, *, max_depth: int = MAX_DEPTH,
               nonfinite: str = "refuse", schema: Any = None) -> Any:
    """One JSON value from `data` (read from `path`, which the messages name). `nonfinite`: "refuse" (NaN,
    Infinity, 1e999 are errors) or "null" (they read as None). `schema`: see `check`."""
    text = decode_text(data, path) if isinstance(data, (bytes, bytearray)) else data
    if _nesting_exceeds(text, max_depth):
        raise SmallFileError(path, f"JSON nested deeper than {max_depth} levels; not a file Layerscope wrote",
                             "too_deep")
    parse_float, parse_constant = _number_hooks(nonfinite)
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except _BadNumber as exc:
        raise SmallFileError(path, f"a number out of range: {exc}", "number") from None
    except RecursionError:
        raise SmallFileError(path, "JSON nested too deep", "too_deep") from None
    except MemoryError:
        raise SmallFileError(path, "not enough memory to read this file", "no_memory") from None
    except ValueError as exc:  # JSONDecodeError, and int() past Python's digit limit
        raise SmallFileError(path, f"not valid JSON ({str(exc)[:100]})", "not_json") from None
    if schema is not None:
        check(value, schema, path)
    return value


def read_json(path: str | os.PathLike, *, max_bytes: int, no_link: bool = False, max_depth: int = MAX_DEPTH,
              nonfinite: str = "refuse", schema: Any = None) -> Any:
    """A whole JSON file through every check above; SmallFileError names the file and the reason."""
    return parse_json(read_bytes(path, max_bytes=max_bytes, no_link=no_link), path, max_depth=max_depth,
                      nonfinite=nonfinite, schema=schema)


@dataclass
class JsonLines:
    """The values of a JSON-lines file, with what was skipped: (line number, reason) of each bad line."""
    values: list = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


def read_json_lines(path: str | os.PathLike, *, max_bytes: int, no_link: bool = False,
                    max_line_bytes: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH, nonfinite: str = "refuse",
                    schema: Any = None) -> JsonLines:
    """Each non-empty line parsed as JSON (and checked against `schema`); a bad line is listed in `.bad`
    with its reason, never raised. The file itself is read as `read_bytes` reads it."""
    data = read_bytes(path, max_bytes=max_bytes, no_link=no_link)
    out = JsonLines()
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(line) > max_line_bytes:
            out.bad.append((number, f"a line of {_size_text(len(line))}, above {_size_text(max_line_bytes)}"))
            continue
        try:
            out.values.append(parse_json(line, path, max_depth=max_depth, nonfinite=nonfinite, schema=schema))
        except SmallFileError as exc:
            out.bad.append((number, exc.reason))
    return out


# ---- schema ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Obj:
    """A JSON object: `required` and `optional` fields, each with its schema; other keys are allowed (a newer
    writer may add some) unless `closed`."""
    required: dict = field(default_factory=dict)
    optional: dict = field(default_factory=dict)
    closed: bool = False


@dataclass(frozen=True)
class ListOf:
    item: Any
    max_len: int = 1_000_000


@dataclass(frozen=True)
class MapOf:
    """A JSON object used as a mapping: any string keys, each value checked against `value`."""
    value: Any
    max_len: int = 1_000_000


class OneOf(tuple):
    """Literal choices: OneOf(("relabel", "exclude"))."""


def _type_words(expected) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "an object",
             list: "a list", type(None): "null"}
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(names.get(k, getattr(k, "__name__", str(k))) for k in kinds)


def _is_type(value, expected) -> bool:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    for kind in kinds:
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(value, kind):
            return True
    return False


def _shown(value) -> str:
    text = json.dumps(value)[:40] if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text


def check(value: Any, schema: Any, path: str | os.PathLike, where: str = "") -> None:
    """Raise SmallFileError (kind schema) naming the file and the place inside it when `value` does not fit.
    A schema is a Python type or tuple of types (float accepts integers; int refuses true/false), an Obj,
    ListOf, MapOf, OneOf, or None (anything)."""
    at = where or "the top level"
    if schema is None:
        return
    if isinstance(schema, OneOf):
        if value not in schema:
            raise SmallFileError(path, f"{at}: {_shown(value)} is not one of {', '.join(map(str, schema))}")
    elif isinstance(schema, Obj):
        _check_object(value, schema, path, where)
    elif isinstance(schema, ListOf):
        if not isinstance(value, list):
            raise SmallFileError(path, f"{at} must be a list, not {_shown(value)}")
        if len(value) > schema.max_len:
            raise SmallFileError(path, f"{at} has {len(value):,} items, above {schema.max_len:,}")
        for i, item in enumerate(value):
            check(item, schema.item, path, f"{where}[{i}]")
    elif isinstance(schema, MapOf):
        if not isinstance(value, dict):
            raise SmallFileError(path, f"{at} must be an object, not {_shown(value)}")
        if len(value) > schema.max_len:
            raise SmallFileError(path, f"{at} has {len(value):,} entries, above {schema.max_len:,}")
        for key, item in value.items():
            check(item, schema.value, path, f"{where}[{json.dumps(key)[:60]}]")
    elif not _is_type(value, schema):
        raise SmallFileError(path, f"{at} must be {_type_words(schema)}, not {_shown(value)}")


def _check_object(value, schema: Obj, path, where: str) -> None:
    at = where or "the top level"
    if not isinstance(value, dict):
        raise SmallFileError(path, f"{at} must be an object, not {_shown(value)}")
    for name, sub in schema.required.items():
        if name not in value:
            raise SmallFileError(path, f"{at} has no {name!r}")
        check(value[name], sub, path, f"{where}.{name}" if where else name)
    for name, sub in schema.optional.items():
        if name in value:
            check(value[name], sub, path, f"{where}.{name}" if where else name)
    if schema.closed:
        extra = set(value) - set(schema.required) - set(schema.optional)
        if extra:
            raise SmallFileError(path, f"{at}: unknown field {sorted(extra)[0]!r}")


# ---- CSV -------------------------------------------------------------------------------------------------
def read_csv(path: str | os.PathLike, *, max_bytes: int = CAPS["table"], no_link: bool = False,
             required: tuple[str, ...] = (), max_field: int = MAX_CSV_FIELD,
             max_rows: int = MAX_CSV_ROWS) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line, as dicts of strings. SmallFileError names the file and the
    line for a field above `max_field`, a missing `required` column, NUL bytes or more than `max_rows` rows."""
    text = read_text(path, max_bytes=max_bytes, no_link=no_link)
    return list(iter_csv_text(text, path, required=required, max_field=max_field, max_rows=max_rows))


def iter_csv_text(text: str, path, *, required: tuple[str, ...] = (), max_field: int = MAX_CSV_FIELD,
                  max_rows: int = MAX_CSV_ROWS) -> Iterator[dict[str, str]]:
    if "\0" in text:  # csv reads NUL as a character; no table Layerscope writes holds one
        line = text.count("\n", 0, text.index("\0")) + 1
        raise SmallFileError(path, f"line {line}: a NUL byte; not a text table", "csv")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise SmallFileError(path, "the file is empty (no header line)", "csv")
        missing = [name for name in required if name not in header]
        if missing:
            raise SmallFileError(path, f"no {', '.join(missing)} column (the header is {','.join(header)[:100]})",
                                 "csv")
        for count, row in enumerate(reader, start=1):
            if count > max_rows:
                raise SmallFileError(path, f"more than {max_rows:,} rows", "csv")
            long = next((v for v in row if len(v) > max_field), None)
            if long is not None:
                raise SmallFileError(path, f"line {reader.line_num}: a field of {len(long):,} characters, above "
                                           f"{max_field:,}", "csv")
            yield dict(zip(header, row))
    except csv.Error as exc:  # field larger than csv's own limit, NUL bytes, a bad quote
        raise SmallFileError(path, f"line {reader.line_num}: not a valid CSV file ({exc})", "csv") from None

