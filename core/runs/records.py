"""Run records: the versioned lines of a run folder's metrics.jsonl, and the one data path from the engine
to every view (see docs/records.md).

A record is a flat JSON object with `version`, `kind` and `time` plus the fields of its kind. `make()` builds
one from Python values, `encode()` turns it into one line, `decode()` parses a line back and checks every known
field's type. JSON has no NaN or infinity: both are written, and read back, as null.
"""
from __future__ import annotations

import json
import math
import re
import time as _time

from core.errors import LayerscopeError

RECORD_VERSION = 1
CONFIG_VERSION = 1

NUMBER = (int, float)
# Every field a record of any kind may carry, and the JSON types it may have (null is always allowed).
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "version": (int,), "kind": (str,), "time": NUMBER,
    # where the run is
    "epoch": (int,), "epochs": (int,), "start_epoch": (int,), "start_batch": (int,), "batch": (int,), "batches_per_epoch": (int,),
    "step": (int,), "total_steps": (int,),
    # training numbers
    "loss": NUMBER, "acc": NUMBER, "lr": NUMBER, "images_per_sec": NUMBER, "elapsed_s": NUMBER,
    "eta_s": NUMBER, "duration_s": NUMBER,
    "train_loss": NUMBER, "train_acc": NUMBER, "val_loss": NUMBER, "val_acc": NUMBER, "best_val_acc": NUMBER,
    # run facts
    "device": (str,), "train_size": (int,), "val_size": (int,), "heartbeat_s": NUMBER, "pid": (int,),
    "host": (str,), "state": (str,), "message": (str,), "checkpoint": (str,), "reason": (str,),
    "metric": (str,), "patience": (int,), "best": NUMBER, "best_epoch": (int,), "resumed": (bool,),
    # multi-process runs (DDP): which process, of how many
    "rank": (int,), "world_size": (int,),
    # the compute breakdown (kind "compute"): where the steps' time went, what the machine did, the verdict
    "wall_s": NUMBER, "steps": (int,), "data_wait_s": NUMBER, "compute_s": NUMBER, "sync_s": NUMBER,
    "other_s": NUMBER, "data_share": NUMBER, "compute_share": NUMBER, "sync_share": NUMBER, "other_share": NUMBER,
    "gpu_busy_share": NUMBER, "cpu_count": (int,), "cpu_percent": NUMBER, "rss_mb": NUMBER, "workers": (int,),
    "workers_cpu_percent": NUMBER, "workers_rss_mb": NUMBER, "system_memory_percent": NUMBER,
    "gpu_memory_used_mb": NUMBER, "gpu_memory_total_mb": NUMBER, "gpu_allocated_mb": NUMBER,
    "gpu_reserved_mb": NUMBER, "gpu_util_percent": NUMBER, "verdict": (str,), "verdict_kind": (str,),
}

# The kinds a version-1 writer emits and the fields each must carry (beyond version, kind, time).
KINDS: dict[str, tuple[str, ...]] = {
    "start": ("epochs", "start_epoch", "batches_per_epoch", "total_steps"),
    "resume": ("epoch", "step"),           # written before "start" when a run continues from a checkpoint
    "step": ("step", "loss"),              # one per optimizer step
    "epoch": ("epoch", "step", "val_loss", "val_acc"),
    "heartbeat": ("state",),               # state: running | paused | evaluating
    "paused": ("step",),
    "resumed": ("step",),                  # un-paused (not to be confused with "resume")
    "checkpoint": ("checkpoint", "reason"),
    "early_stop": ("epoch", "metric", "patience"),
    "stopped": ("epoch", "step"),
    "end": ("epoch", "step"),
    "diverged": ("step", "message"),
    "error": ("message",),
    "compute": ("wall_s", "steps", "data_share", "compute_share", "sync_share", "verdict_kind"),
}
# After one of these the writer has said its last word (until a later "resume"/"start").
FINAL_KINDS = ("end", "stopped", "error", "diverged")
# What a live writer says it does (a heartbeat's state); core.runs.reducer makes them status words.
RUNNING, PAUSED, EVALUATING = HEARTBEAT_STATES = ("running", "paused", "evaluating")


class RecordError(LayerscopeError, ValueError):
    """A line is not a valid record; the message says what is wrong with it."""


class Record(dict):
    """One record: a plain dict (so it travels through queued Qt signals and json as is) with shortcuts."""

    @property
    def kind(self) -> str:
        return self.get("kind", "")

    @property
    def time(self) -> float | None:
        return self.get("time")

    @property
    def version(self) -> int:
        return self.get("version", 0)


def _clean(name: str, value):
    """A JSON-safe value: non-finite floats become None, numpy/torch scalars become Python numbers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy / torch scalar
        return _clean(name, value.item())
    raise RecordError(f"field {name!r}: {type(value).__name__} is not a plain number, string or bool")


def _check(record: dict) -> None:
    """Raise RecordError when a known field has the wrong type or a known kind misses a required field."""
    for name, value in record.items():
        allowed = FIELD_TYPES.get(name)
        if value is None or allowed is None:
            continue
        if isinstance(value, bool) and bool not in allowed:
            raise RecordError(f"field {name!r} must be {'/'.join(t.__name__ for t in allowed)}, got a bool")
        if not isinstance(value, allowed):
            raise RecordError(f"field {name!r} must be {'/'.join(t.__name__ for t in allowed)}, "
                              f"got {type(value).__name__} {str(value)[:40]!r}")
    missing = [f for f in KINDS.get(record.get("kind"), ()) if f not in record]
    if missing:
        raise RecordError(f"a {record.get('kind')!r} record needs {', '.join(missing)}")


def make(kind: str, *, time: float | None = None, **fields) -> Record:
    """A new record of `kind`, stamped with the current version and time; raises RecordError on bad fields."""
    record = Record(version=RECORD_VERSION, kind=kind, time=_time.time() if time is None else float(time))
    for name, value in fields.items():
        record[name] = _clean(name, value)
    _check(record)
    return record


def encode(record: dict) -> str:
    """One JSON line, without the newline."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False)


def _no_constants(name: str):
    return None  # NaN / Infinity / -Infinity written by a careless writer read back as null


# Numbers a record may hold. A run folder may be shared, and one number beyond these broke every view of every
# run: an integer past a float's range raises OverflowError wherever it meets a float (the reducer, the plots),
# a value near 1e300 overflows a plot's range arithmetic on every repaint. Nothing a run computes in float32 is
# larger than MAX_MAGNITUDE (a larger value can only be a crafted one, like an infinite one: it reads as null),
# no step, epoch or count is larger than MAX_WHOLE (a larger one makes the line invalid).
MAX_MAGNITUDE = 3.4028234663852886e38  # float32's largest finite value
MAX_WHOLE = 2 ** 53  # whole numbers a float holds exactly
MAX_DEPTH = 8  # records are flat; an unknown field may hold a small object, never a deep one


class _OutOfRange(RecordError):
    pass


def _whole_number(text: str) -> int:
    if len(text) > 20:  # checked before int(): Python refuses (ValueError) past 4,300 digits, and is slow before
        raise _OutOfRange(f"an integer of {len(text):,} digits")
    return int(text)


# One decoder for every line: json.loads(line, parse_constant=...) builds a new decoder per call, which was
# half the cost of decoding a short record (the run list decodes tens of thousands at a scan).
_DECODER = json.JSONDecoder(parse_constant=_no_constants, parse_int=_whole_number)
_NOT_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[^\[\]{}]+')
_INNERMOST = re.compile(r"\[\]|\{\}")


def _too_deep(line: str) -> bool:
    """Nested deeper than MAX_DEPTH, found without recursion (strings and all but brackets stripped, then the
    innermost pairs peeled once per level); a flat record costs two counts."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:
        return False
    brackets = _NOT_BRACKETS.sub("", line)
    for _ in range(MAX_DEPTH):
        peeled = _INNERMOST.sub("", brackets)
        if peeled == brackets or not peeled:
            return False
        brackets = peeled
    return _INNERMOST.sub("", brackets) != brackets


def _in_range(name: str, value):
    """The value as a reader may use it: a number beyond MAX_MAGNITUDE (or not finite) is None, a whole
    number beyond MAX_WHOLE makes the record invalid."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_WHOLE:
            raise RecordError(f"field {name!r}: {str(value)[:24]} is beyond the range of a run's numbers")
        return value
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
        return None  # e.g. 1e999 parses as inf; 1e300 is no loss a run computed
    return value


def decode(line: str | bytes) -> Record:
    """Parse one line. Raises RecordError (never anything else) when it is not a valid record.

    Lines written before records were versioned (no `version`) read as version 0; a record from a newer
    writer is refused so that it is not half understood."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordError("not UTF-8 text (binary data?)") from None
    if _too_deep(line):
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels; not a record")
    try:
        value = _DECODER.decode(line)
    except _OutOfRange as exc:
        raise RecordError(f"a number out of range ({exc})") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise RecordError(f"not JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not isinstance(value, dict):
        raise RecordError(f"not a JSON object (a {type(value).__name__})")
    if not isinstance(value.get("kind"), str):
        raise RecordError("no 'kind' string")
    for name, v in value.items():
        value[name] = _in_range(name, v)
    if value.get("version") is None:  # absent: an older, version-0 line; null: no promise of anything newer
        value["version"] = 0
    version = value["version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION:
        raise RecordError(f"written by a newer Layerscope (record version {version}); update Layerscope")
    _check(value)
    return Record(value)
