"""The list of runs: every run folder under the runs root plus the folders the user added, one RunSummary each.

A scan stats each folder's config.json, run_meta.json and metrics.jsonl and re-reads only what changed since
the last scan (config and meta by (mtime, size); metrics from the byte offset its digest reached), so a
second scan of 10,000 unchanged runs is a few stats each. Nothing a folder holds raises: a problem becomes
the `error` text of that run's row, naming the file and what to do.
"""
from __future__ import annotations

import os
import stat as stat_mode
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from core.io.small_files import CAPS, SmallFileError, read_json
from core.runs.digest import MetricsDigest
from core.runs.layout import CONFIG, META, METRICS, TRIALS, RunLayout, SweepLayout
from core.runs.reducer import LIVE, WAITING

# A row's status is a run status (core.runs.reducer), or one of these when the folder itself cannot be read.
MISSING, UNREADABLE = "missing", "unreadable"


@dataclass
class RunSummary:
    name: str
    path: str
    status: str = WAITING
    dataset: str = ""
    model: str = ""
    epochs_done: int = 0
    epochs_planned: int | None = None
    best_val_acc: float | None = None
    best_epoch: int | None = None
    started: float | None = None  # seconds since the epoch
    duration_s: float | None = None  # seconds spent training (paused time excluded)
    note: str = ""
    error: str = ""  # what is wrong with this run's files, for its row; "" when nothing is
    steps: int = 0
    last_step: int | None = None
    eta_s: float | None = None  # from the writer's last report, while it runs
    modified: float = 0.0

    @property
    def epochs_text(self) -> str:
        return f"{self.epochs_done} / {self.epochs_planned}" if self.epochs_planned else str(self.epochs_done)


def _with_trials(paths: list[Path]) -> list[Path]:
    out = []
    for path in paths:
        sweep = SweepLayout(path)
        out.extend(sweep.trial_folders() if sweep.is_sweep_folder() else [path])
    return out


def _default_name(path: Path) -> str:
    """A run's name until it is renamed: its folder's; a sweep's trial is <sweep folder>/<trial>, so the trials
    of one sweep sort and filter together."""
    if path.parent.name == TRIALS and SweepLayout(path.parent.parent).is_sweep_folder():
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def is_run_folder(path: Path) -> bool:
    return RunLayout(path).is_run_folder()


def read_json_object(path: Path) -> dict:
    """A run folder's config.json or run_meta.json, through the one small-file reader (a regular file only,
    never blocking on a FIFO, at most CAPS["settings"] bytes, nested at most 32 deep, no number beyond a
    float's range; NaN / Infinity read as null); SmallFileError (a ValueError) names the file and why."""
    return read_json(path, max_bytes=CAPS["settings"], nonfinite="null", schema=dict)


def _problem(path: Path, exc: Exception) -> str:
    """A run file's problem for its row (the row names the run, so the file by its name)."""
    reason = exc.reason if isinstance(exc, SmallFileError) else (getattr(exc, "strerror", None) or str(exc))
    return f"{path.name}: {reason}; fix or remove it"


def _text(value) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class _Cached:
    config_key: tuple | None = None
    config: dict = field(default_factory=dict)
    config_error: str = ""
    meta_key: tuple | None = None
    meta: dict = field(default_factory=dict)
    digest: MetricsDigest = field(default_factory=MetricsDigest)


class RunIndex:
    """Scans the runs root and added folders. A scan on one thread and single-run refreshes on another may
    overlap: each run's summary is made under a lock."""

    def __init__(self, root: str | os.PathLike | None, folders: Iterable[str | os.PathLike] = ()):
        self.root = Path(root).expanduser() if root is not None else None
        self.added: list[Path] = []
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        for folder in folders:
            self.add_folder(folder)

    def add_folder(self, folder: str | os.PathLike) -> list[Path]:
        """Add a run folder, or a folder of run folders; returns the runs it adds. A folder with no run in it
        is taken as a run that has not written anything yet (`monitor DIR` before the run starts)."""
        folder = Path(folder).expanduser().resolve()
        found = []
        if folder.is_dir() and not is_run_folder(folder):
            found = [p for p in self._children(folder) if is_run_folder(p)]
        found = found or [folder]  # a run folder, a future one, or one gone/unreadable: its row says which
        for path in found:
            if path not in self.added:
                self.added.append(path)
        return found

    def forget(self, path: str | os.PathLike) -> None:
        path = Path(path)
        self.added = [p for p in self.added if p != path]
        with self._lock:
            self._cache.pop(str(path), None)

    @staticmethod
    def _children(folder: Path) -> list[Path]:
        try:
            with os.scandir(folder) as entries:
                return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir()]
        except OSError:
            return []

    def run_paths(self) -> list[Path]:
        """The runs under the root and the added ones; a sweep folder stands for its trials' run folders."""
        paths = _with_trials(self._children(self.root)) if self.root is not None else []
        seen = {str(p) for p in paths}
        return paths + [p for p in _with_trials(self.added) if str(p) not in seen]

    def scan(self, should_stop: Callable[[], bool] = lambda: False,
             progress: Callable[[int, int], None] | None = None) -> list[RunSummary]:
        paths = self.run_paths()
        now = time.time()
        out = []
        for i, path in enumerate(paths):
            if i % 16 == 0:
                time.sleep(0)  # let the GUI thread take the GIL now rather than at the next 5 ms switch
                if should_stop():
                    break
                if progress is not None:
                    progress(i, len(paths))
            out.append(self.summary(path, now))
        if len(out) == len(paths):
            alive = {s.path for s in out}
            with self._lock:
                for key in [k for k in self._cache if k not in alive]:
                    del self._cache[key]  # deleted runs do not pin memory
        return out

    def summary(self, path: str | os.PathLike, now: float | None = None) -> RunSummary:
        """One run's row, refreshed from what changed on disk. Never raises for what the folder holds: each
        file's problem is its row's `error`, and whatever else goes wrong with one run costs that row only."""
        with self._lock:
            try:
                return self._summary(Path(path), now)
            except Exception as exc:  # noqa: BLE001 - one bad run must never hide the others
                self._cache.pop(str(Path(path)), None)
                return RunSummary(name=Path(path).name, path=str(path), status=UNREADABLE,
                                  error=f"this run's files cannot be read ({type(exc).__name__}: {str(exc)[:200]})")

    def _summary(self, path: Path, now: float | None) -> RunSummary:
        now = time.time() if now is None else now
        row = RunSummary(name=_default_name(path), path=str(path))
        cached = self._cache.setdefault(str(path), _Cached())
        try:
            entries = {e.name: e for e in os.scandir(path) if e.name in (CONFIG, METRICS, META)}
        except FileNotFoundError:
            row.status, row.error = MISSING, f"{path} no longer exists (deleted, renamed or unmounted?)"
            return row
        except NotADirectoryError:
            row.status, row.error = MISSING, f"{path} is a file, not a run folder"
            return row
        except OSError as exc:
            row.status = UNREADABLE
            row.error = f"cannot read {path}: {exc.strerror or exc}; check its permissions"
            return row
        problems: list[str] = []
        self._read_meta(path, entries.get(META), cached, row, problems)
        self._read_config(path, entries.get(CONFIG), cached, row, problems)
        self._read_metrics(path, entries.get(METRICS), cached, row, problems, now)
        row.error = "; ".join(problems)
        return row

    # ---- the three files ------------------------------------------------------------------------------
    @staticmethod
    def _read_meta(path, entry, cached: _Cached, row: RunSummary, problems: list[str]) -> None:
        if entry is None:
            cached.meta_key, cached.meta = None, {}
            return
        try:
            stat = entry.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            if key != cached.meta_key:
                cached.meta_key, cached.meta = key, read_json_object(path / META)
        except (OSError, ValueError) as exc:
            problems.append(_problem(path / META, exc))
            cached.meta_key, cached.meta = None, {}
        row.name = _text(cached.meta.get("name")) or row.name
        row.note = _text(cached.meta.get("note"))

    @staticmethod
    def _read_config(path, entry, cached: _Cached, row: RunSummary, problems: list[str]) -> None:
        if entry is None:
            cached.config_key, cached.config, cached.config_error = None, {}, ""
            problems.append(f"no {CONFIG}: settings unknown (not written by Layerscope, or still starting)")
            return
        try:
            stat = entry.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            if key != cached.config_key:
                cached.config_key, cached.config_error = key, ""
                cached.config = read_json_object(path / CONFIG)
        except (OSError, ValueError) as exc:
            cached.config, cached.config_error = {}, _problem(path / CONFIG, exc)
        if cached.config_error:
            problems.append(cached.config_error)
        config = cached.config
        data = config.get("data") if isinstance(config.get("data"), dict) else {}
        dataset = _text(data.get("name"))
        row.dataset = Path(dataset).name if ("/" in dataset or os.sep in dataset) else dataset
        row.model = _text(config.get("model_name"))
        train = config.get("train") if isinstance(config.get("train"), dict) else {}
        epochs = train.get("epochs")
        if isinstance(epochs, int) and not isinstance(epochs, bool):
            row.epochs_planned = epochs
        row.started = stat.st_mtime if entry is not None and not cached.config_error else None

    @staticmethod
    def _read_metrics(path, entry, cached: _Cached, row: RunSummary, problems: list[str], now: float) -> None:
        digest = cached.digest
        if entry is None:
            cached.digest = MetricsDigest()
            row.status = WAITING
            return
        try:
            stat = entry.stat()
            if not stat_mode.S_ISREG(stat.st_mode):  # a FIFO, a device, a folder: never opened
                raise SmallFileError(path / METRICS, "not a regular file; it is not read", "not_regular")
            digest.update(path / METRICS, stat)
        except (OSError, SmallFileError) as exc:
            row.status = UNREADABLE
            why = exc.reason if isinstance(exc, SmallFileError) else f"{exc.strerror or exc}; check its permissions"
            problems.append(f"cannot read {METRICS}: {why}")
            return
        row.modified = stat.st_mtime
        if stat.st_size == 0:
            problems.append(f"{METRICS} is empty: the run has not written a record yet")
        problems.extend(digest.problems())
        row.status = digest.status(now, stat.st_mtime)
        row.epochs_done = digest.epochs_done
        row.epochs_planned = digest.planned_epochs or row.epochs_planned
        row.best_val_acc, row.best_epoch = digest.best_val_acc, digest.best_epoch
        row.steps, row.last_step = digest.steps, digest.last_step
        row.eta_s = digest.eta_s if row.status in LIVE else None
        start_time = digest.start.get("time") if digest.start else None
        if isinstance(start_time, (int, float)) and not isinstance(start_time, bool):
            row.started = float(start_time)
        if digest.start is not None:  # time spent training: pauses and the gaps before a resume left out
            row.duration_s = digest.state.training_s(now, activity_at=stat.st_mtime)
        if digest.final is not None and digest.final.get("kind") in ("error", "diverged"):
            problems.insert(0, f"the run failed: {_text(digest.final.get('message')) or 'no message'}")

    def config(self, path: str | os.PathLike) -> dict:
        """The run's settings as last read (empty if it has none)."""
        cached = self._cache.get(str(Path(path)))
        return dict(cached.config) if cached is not None else {}
