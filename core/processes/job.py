"""A training run in processes of its own: `layerscope train --settings S --out RUN [--nproc N]` in its own
process group (its own session), followed through its run folder (core.runs.follower, RUN/ranks/) like any
other run. This is how the app starts every run, one process or N; the run can outlive the window, which can
follow it again later from the run folder alone.

Pause is a control file: `pause()` / `resume()` write RUN/control.json ({"pause": true|false}) atomically; the
run's main process looks at it about twice a second; a multi-process run pauses every process at the same step
through the per-step agreement (core.runs.control, core.training.trainer). While paused the processes keep
agreeing about every 0.5 s (no collective waits out the process-group timeout), their status files say "paused"
and metrics.jsonl gets a "paused" record, then "resumed".

Stop is a signal: SIGINT to the process the job started (a single run's trainer, or the launcher of N, which
forwards it to every process); each stops after its batch and the main one saves last.pt. It works while paused
too. A live-weights snapshot (core.training.live_snapshot) is asked of a single process with SIGUSR1.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import catalog
from core.io.atomic import open_append
from core.io.small_files import SmallFileError, open_regular
from core.runs.control import SNAPSHOT_SIGNAL, STARTED_ENV, who_asks, write_control
from core.runs.follower import RunFollower
from core.runs.layout import JOB_SETTINGS_PREFIX, JOB_SETTINGS_SUFFIX, RunLayout
from core import exit_codes
from core.runs import layout
from core.runs.rank_status import read_rank_statuses

ROOT = Path(__file__).resolve().parents[2]  # the repository root
JOB_LOG = layout.LAUNCHER_LOG  # the job's own output (stdout and stderr of every process), in its run folder
# A run stopped on request: its own status (130 / 143), or killed by the signal itself before its handler was in.
STOP_CODES = (*exit_codes.STOPPED, -int(signal.SIGINT), -int(signal.SIGTERM))
CLI_PREFIX = "layerscope train: "  # how the CLI starts the one line it prints when it cannot go on
TAIL_BYTES = 16_384  # how much of the end of the job's log is read for its last word


class TrainJob:
    def __init__(self, process: subprocess.Popen, run_dir: Path, settings_file: Path | None = None, nproc: int = 1):
        self.process = process
        self.run_dir = Path(run_dir)
        self.nproc = nproc
        self._settings_file = settings_file
        self._stop_sent = False
        self.follower = RunFollower(RunLayout(run_dir).metrics)

    @classmethod
    def start(cls, settings, run_dir: str | os.PathLike, nproc: int = 1, *, resume: str | os.PathLike | None = None,
              finetune_from: str | os.PathLike | None = None, extra_args: tuple[str, ...] = (),
              env: dict | None = None, log=None) -> "TrainJob":
        """settings: a core.training.session.RunSettings. resume: go on from this checkpoint (in its own folder
        when it is RUN/last.pt); finetune_from: start from this checkpoint's weights with a fresh optimizer.
        The job's output goes to `log` (a file object or subprocess.DEVNULL), by default appended to RUN/launcher.log."""
        run_dir = Path(run_dir).resolve()  # the processes run in the repository root: paths are made absolute
        run_dir.mkdir(parents=True, exist_ok=True)
        write_control(run_dir, pause=False)  # a pause left by an earlier job in this folder does not carry over
        values = settings.to_dict()
        if catalog.is_folder_dataset(values["data"]["name"]):
            values["data"]["name"] = str(Path(values["data"]["name"]).expanduser().resolve())
        values["train"]["probe_images"] = [str(Path(p).expanduser().resolve()) for p in values["train"]["probe_images"]]
        fd, name = tempfile.mkstemp(prefix=JOB_SETTINGS_PREFIX, suffix=JOB_SETTINGS_SUFFIX)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(values, f)
        argv = [sys.executable, "-m", "core.cli", "train", "--settings", name, "--out", str(run_dir), "--quiet",
                "--device", str(settings.train.device), "--nproc", str(int(nproc))]
        if resume is not None:
            argv += ["--resume", str(Path(resume).resolve())]
        if finetune_from is not None:
            argv += ["--finetune-from", str(Path(finetune_from).resolve())]
        job_env = dict(os.environ if env is None else env)
        job_env[STARTED_ENV] = repr(time.time())  # a pause written from now on is for this run (core.runs.control)
        job_env["PYTHONPATH"] = str(ROOT) + (os.pathsep + job_env["PYTHONPATH"] if job_env.get("PYTHONPATH") else "")
        # Appended to only as a plain file of this folder, never through a link or into a FIFO (core.io.atomic).
        own_log = open_append(run_dir / JOB_LOG, inside=run_dir) if log is None else None
        try:
            # In the repository root: `python -m` puts the working folder first on sys.path, where a user's
            # own "core" folder would shadow this one.
            process = subprocess.Popen([*argv, *extra_args], cwd=ROOT, env=job_env, stdin=subprocess.DEVNULL,
                                       stdout=own_log or log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own group: closing the app does not signal it
        finally:
            if own_log is not None:
                os.close(own_log)  # the child has its own descriptor
        return cls(process, run_dir, Path(name), nproc=int(nproc))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Ask every process to stop after its batch (the main one saves last.pt). Sent once: a second SIGINT
        (Stop, then closing the window) would abort the run without its save."""
        if not self._stop_sent:
            self._stop_sent = self._signal(signal.SIGINT)

    def ask_snapshot(self) -> bool:
        """SIGUSR1: a single process writes RUN/live.pt at its next batch boundary. Only for a process whose
        start record has been read (before that, SIGUSR1 would end it). False for a job of N processes (its
        launcher does not forward the signal: ask through the control file instead)."""
        return self.nproc == 1 and self._signal(SNAPSHOT_SIGNAL)

    def _signal(self, signum: int) -> bool:
        if not self.running:
            return False
        try:
            self.process.send_signal(signum)
        except ProcessLookupError:  # it ended between the check and the signal
            return False
        return True

    def pause(self) -> None:
        """Every process pauses after its current step (within about half a second)."""
        write_control(self.run_dir, pause=True, by=f"the app that started this run, {who_asks()}")

    def resume(self) -> None:
        write_control(self.run_dir, pause=False)

    def wait(self, timeout: float | None = None) -> int:
        code = self.process.wait(timeout)
        self.forget_settings()
        return code

    def forget_settings(self) -> None:
        """Remove the settings file the processes were started with (they read it before their first record)."""
        if self._settings_file is not None:
            self._settings_file.unlink(missing_ok=True)
            self._settings_file = None

    def ranks(self) -> list[dict]:
        """Each process's last status (RUN/ranks/rank-N.json): state, step, pid, host, time."""
        return read_rank_statuses(self.run_dir)

    def status(self) -> str:
        self.follower.poll()
        return self.follower.status()


def last_words(run_dir: str | os.PathLike) -> str | None:
    """The last line the CLI printed to say why it could not go on ("layerscope train: ..."), from the job's
    log; None when it said nothing of the kind."""
    try:  # a shared folder's launcher.log may be a FIFO or a link to a device: the safe open refuses those
        with open_regular(Path(run_dir) / JOB_LOG) as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - TAIL_BYTES))
            tail = fh.read(TAIL_BYTES).decode("utf-8", errors="replace")
    except (OSError, SmallFileError):
        return None
    said = [line.strip()[len(CLI_PREFIX):] for line in tail.splitlines() if line.strip().startswith(CLI_PREFIX)]
    return said[-1] if said else None


def failure_message(run_dir: str | os.PathLike, code: int, final: dict | None) -> str:
    """Why a job failed, for the user: the run's own error record, else the CLI's last word in the job's log,
    else its exit status and where the log is."""
    if final and final.get("kind") in ("error", "diverged") and final.get("message"):
        return str(final["message"])
    words = last_words(run_dir)
    if words:
        return words.removeprefix("diverged: ")
    return f"the training process exited with status {code} (see {Path(run_dir) / JOB_LOG})"
