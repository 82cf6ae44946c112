"""A training run as a separate job: `layerscope train --settings S --nproc N --out RUN` in its own process
group, followed through its run folder (core.follow, RUN/ranks/) like any other run. This is how the app starts
a multi-process run; it can close and follow the job again later from the run folder alone.

Stop is a signal: SIGINT to the launcher, which forwards it to every process (each stops after its batch;
rank 0 saves last.pt). There is no pause for a job.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from core.follow import RunFollower
from core.rank_status import read_rank_statuses

ROOT = Path(__file__).resolve().parent.parent


class TrainJob:
    def __init__(self, process: subprocess.Popen, run_dir: Path, settings_file: Path | None = None):
        self.process = process
        self.run_dir = run_dir
        self._settings_file = settings_file
        self.follower = RunFollower(run_dir / "metrics.jsonl")

    @classmethod
    def start(cls, settings, run_dir: str | os.PathLike, nproc: int = 1, *, extra_args: tuple[str, ...] = (),
              env: dict | None = None, log=subprocess.DEVNULL) -> "TrainJob":
        """settings: a core.session.RunSettings. The job's output goes to `log` (a file object or DEVNULL)."""
        run_dir = Path(run_dir)
        fd, name = tempfile.mkstemp(prefix="layerscope-job-", suffix=".json")
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
