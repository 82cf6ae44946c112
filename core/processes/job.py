"""A training run as a separate job: `layerscope train --settings S --nproc N --out RUN` in its own process
group, followed through its run folder (core.runs.follower, RUN/ranks/) like any other run. This is how the app starts
a multi-process run; it can close and follow the job again later from the run folder alone.

Pause is a control file: `pause()` / `resume()` write RUN/control.json ({"pause": true|false}) atomically;
rank 0 looks at it about twice a second and every process pauses at the same step through the per-step
agreement (core.runs.control, core.training.trainer). While paused the processes keep agreeing about every 0.5 s (no
collective waits out the process-group timeout), their status files say "paused" and metrics.jsonl gets a
"paused" record, then "resumed".

Stop is a signal: SIGINT to the launcher, which forwards it to every process (each stops after its batch;
rank 0 saves last.pt). It works while paused too.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from core.runs.control import write_control
from core.runs.follower import RunFollower
from core.runs.layout import JOB_SETTINGS_PREFIX, JOB_SETTINGS_SUFFIX, RunLayout
from core.runs.rank_status import read_rank_statuses

ROOT = Path(__file__).resolve().parents[2]  # the repository root


class TrainJob:
    def __init__(self, process: subprocess.Popen, run_dir: Path, settings_file: Path | None = None):
        self.process = process
        self.run_dir = run_dir
        self._settings_file = settings_file
        self.follower = RunFollower(RunLayout(run_dir).metrics)

    @classmethod
    def start(cls, settings, run_dir: str | os.PathLike, nproc: int = 1, *, extra_args: tuple[str, ...] = (),
              env: dict | None = None, log=subprocess.DEVNULL) -> "TrainJob":
        """settings: a core.training.session.RunSettings. The job's output goes to `log` (a file object or DEVNULL)."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_control(run_dir, pause=False)  # a pause left by an earlier job in this folder does not carry over
        fd, name = tempfile.mkstemp(prefix=JOB_SETTINGS_PREFIX, suffix=JOB_SETTINGS_SUFFIX)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(settings.to_dict(), f)
        argv = [sys.executable, "-m", "core.cli", "train", "--settings", name, "--out", str(run_dir), "--quiet",
                "--nproc", str(int(nproc)), *extra_args]
        job_env = dict(os.environ if env is None else env)
        job_env["PYTHONPATH"] = str(ROOT) + (os.pathsep + job_env["PYTHONPATH"] if job_env.get("PYTHONPATH") else "")
        process = subprocess.Popen(argv, cwd=ROOT, env=job_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: closing the app does not signal it
        return cls(process, run_dir, Path(name))

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Ask every process to stop after its batch (rank 0 saves last.pt)."""
        if self.running:
            self.process.send_signal(signal.SIGINT)

    def pause(self) -> None:
        """Every process pauses after its current step (within about half a second)."""
        write_control(self.run_dir, pause=True)

    def resume(self) -> None:
        write_control(self.run_dir, pause=False)

    def wait(self, timeout: float | None = None) -> int:
        code = self.process.wait(timeout)
        if self._settings_file is not None:
            self._settings_file.unlink(missing_ok=True)
            self._settings_file = None
        return code

    def ranks(self) -> list[dict]:
        """Each process's last status (RUN/ranks/rank-N.json): state, step, pid, host, time."""
        return read_rank_statuses(self.run_dir)

    def status(self) -> str:
        self.follower.poll()
        return self.follower.status()
