"""One trial as an ordinary training run in its own process:

    python -m core.cli train --settings RUN/sweep/settings.json --out RUN --quiet

started from the repository root with PYTHONPATH set (as core.processes.job starts a job), in its own process
group, its output in RUN/sweep/train.log. Its per-epoch metric is read from RUN/metrics.jsonl as it is written
(core.runs.follower); a pruned trial is stopped with SIGINT, so it saves last.pt and exits like any stopped run.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from core import exit_codes
from core.io.atomic import write_text_atomic
from core.runs.follower import RunFollower
from core.runs.layout import RunLayout

ROOT = Path(__file__).resolve().parents[3]  # the repository root
EXIT_OK, EXIT_DIVERGED = exit_codes.OK, exit_codes.DIVERGED
EXIT_INTERRUPTED, EXIT_TERMINATED = exit_codes.INTERRUPTED, exit_codes.TERMINATED
STOP_WAIT_S = 60.0  # a stopped trial saves last.pt; after this long it is killed
LOG_TAIL_BYTES = 4096


@dataclass
class TrialRun:
    number: int
    run_dir: Path
    settings: dict
    metric: str
    process: subprocess.Popen | None = None
    values: list[tuple[int, float]] = field(default_factory=list)  # (epoch, metric) as the epochs end
    stop_asked: str = ""  # why this sweep stopped it: "pruned" | "cancelled"
    started_at: float = 0.0

    def start(self, identity: dict, threads: int | None = None, env: dict | None = None) -> None:
        """identity: what the run folder should know of its sweep (sweep folder, study, trial number, values)."""
        own = RunLayout(self.run_dir)
        settings_file = write_text_atomic(own.trial_settings, json.dumps(self.settings, indent=2))
        write_text_atomic(own.trial_file, json.dumps(identity, indent=2))
        argv = [sys.executable, "-m", "core.cli", "train", "--settings", str(settings_file), "--out",
                str(self.run_dir), "--quiet"]
        with open(own.trial_log, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=trial_environment(threads, env), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.time()
        self.follower = RunFollower(RunLayout(self.run_dir).metrics)

    @property
    def pid_started(self) -> float | None:
        try:
            return psutil.Process(self.process.pid).create_time()
        except psutil.Error:
            return None

    def poll(self) -> list[tuple[int, float]]:
        """The (epoch, metric) pairs that arrived since the last poll."""
        new = []
        for record in self.follower.poll():
            if record.kind == "epoch" and isinstance(record.get(self.metric), (int, float)):
                pair = (int(record["epoch"]), float(record[self.metric]))
                self.values.append(pair)
                new.append(pair)
        return new

    @property
    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def stop(self, why: str) -> None:
        """SIGINT: the run stops after its batch and saves last.pt."""
        self.stop_asked = self.stop_asked or why
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGINT)
            except OSError:
                pass

    def wait(self, timeout: float = STOP_WAIT_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def summary_value(self, summary: str, direction: str) -> float | None:
        finite = [v for _, v in self.values if math.isfinite(v)]
        if not finite:
            return None
        if summary == "last":
            return finite[-1]
        return max(finite) if direction == "maximize" else min(finite)

    def log_tail(self) -> str:
        """The end of the trial's output: what it said before it failed."""
        path = RunLayout(self.run_dir).trial_log
        try:
            with open(path, "rb") as fh:
                fh.seek(max(0, os.fstat(fh.fileno()).st_size - LOG_TAIL_BYTES))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


def trial_environment(threads: int | None, env: dict | None = None) -> dict:
    """The trial's environment: this code importable from the repository root, and (unless the user set it)
    a share of the cores per trial, so K trials at once do not each start a thread per core and fight."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = str(ROOT) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    if threads is not None and "OMP_NUM_THREADS" not in out:
        out["OMP_NUM_THREADS"] = str(max(1, threads))
    return out
