"""Run a sweep: `layerscope sweep SPEC --trials N [--parallel K] [--storage URL]` (and the app's dialog) call
run_sweep(). K trials at once, each an ordinary run folder under SWEEP/trials/, driven through Optuna's
ask-and-tell interface (the trials are processes, not a Python objective).

Until the study holds N finished trials (complete or pruned; failed ones do not count):
  ask Optuna for a trial (a queued re-run first) -> draw its values -> start its run -> read its epochs ->
  report each to Optuna, stop it if the pruner says so -> tell Optuna how it ended -> results.csv / .json.
Several workers (this command on several machines, or twice here) share a study through its storage: each
`ask` creates a new trial or takes a queued one atomically, so two workers never run the same trial. The count
is checked before each ask, so workers finishing together may run up to one trial more each.

Stopping (Ctrl+C or SIGTERM, the app's Stop: `progress.cancelled()`, or an exception): every running trial gets SIGINT (it saves
last.pt), is marked failed and queued again, so the same command later goes on where this one stopped. A worker
killed outright leaves its trials RUNNING; the next worker to start puts them back (core.tuning.sweep.study).
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from core.io.atomic import write_text_atomic
from core.progress import NO_PROGRESS, Progress
from core.runs.layout import SweepLayout
from core.tuning.sweep.results import best_row, result_rows, write_results
from core.tuning.sweep.space import apply_params
from core.tuning.sweep.spec import SweepSpec
from core.tuning.sweep.study import (ATTR_MESSAGE, ATTR_OUTCOME, ATTR_RUN_DIR, ATTR_TRAINER_PID,
                                     ATTR_TRAINER_STARTED, HEARTBEAT_S, OpenedStudy, Worker, fail_and_requeue,
                                     masked, open_study, recover_dead_trials)
from core.tuning.sweep.trial import EXIT_DIVERGED, EXIT_OK, TrialRun

POLL_S = 0.5  # how often running trials' metrics are read
MAX_FAILURES_IN_A_ROW = 3  # trials failing one after another: the definition is broken, stop asking for more
SWEEP_FILE_VERSION = 1


@dataclass
class SweepOutcome:
    rows: list[dict]
    best: dict | None
    files: dict[str, Path]
    message: str = ""  # why the sweep stopped short, when it did


def run_sweep(spec: SweepSpec, sweep_dir: str | Path, trials: int | None = None, *, parallel: int = 1,
              storage: str | None = None, progress: Progress = NO_PROGRESS, poll_s: float = POLL_S,
              env: dict | None = None) -> SweepOutcome:
    """Run (or go on with) the sweep `spec` in `sweep_dir` until its study holds `trials` finished trials
    (default: spec.trials; a grid: at most its size). storage: an Optuna RDB URL (default SWEEP/study.db)."""
    if not 1 <= parallel <= 256:
        raise ValueError(f"parallel trials: 1 to 256 (got {parallel})")
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    url = storage or SweepLayout(sweep_dir).default_storage()
    target = trials or spec.trials
    if spec.sampler == "grid":
        target = min(target, spec.grid_size())
    opened = open_study(spec, url, target)
    _write_sweep_file(sweep_dir, spec, url)
    recover_dead_trials(opened)
    pool = TrialPool(opened, spec, sweep_dir, target, parallel, env)
    try:
        while True:
            progress.check_cancelled()
            pool.collect_finished()
            pool.fill()
            if not pool.running:
                break
            pool.follow()
            progress.update(pool.finished_count(), target, pool.status_line())
            time.sleep(poll_s)
    except BaseException:
        pool.interrupt()
        write_results(sweep_dir, opened.study, spec)
        raise
    files = write_results(sweep_dir, opened.study, spec, with_importances=True)
    rows = result_rows(opened.study, spec)
    return SweepOutcome(rows, best_row(rows, spec.direction), files, pool.stop_message)


def _write_sweep_file(sweep_dir: Path, spec: SweepSpec, url: str) -> None:
    """SWEEP/sweep.json: what this folder is (written again by each worker: the same content)."""
    write_text_atomic(SweepLayout(sweep_dir).sweep_file, json.dumps(
        {"version": SWEEP_FILE_VERSION, "study": spec.name, "storage": masked(url), "spec": spec.to_dict()},
        indent=2))


@dataclass
class _Running:
    trial: optuna.Trial
    run: TrialRun
    beat_at: float = field(default_factory=time.monotonic)


class TrialPool:
    """Up to `parallel` trials of one worker at once."""

    def __init__(self, opened: OpenedStudy, spec: SweepSpec, sweep_dir: Path, target: int, parallel: int,
                 env: dict | None):
        self.opened, self.study, self.spec = opened, opened.study, spec
        self.sweep_dir, self.target, self.parallel, self.env = sweep_dir, target, parallel, env
        self.worker = Worker.this()
        self.running: list[_Running] = []
        self.failures_in_a_row = 0
        self.stop_message = ""
        self.threads = max(1, (os.cpu_count() or 1) // parallel)

    # ---- asking --------------------------------------------------------------------------------------
    def fill(self) -> None:
        while len(self.running) < self.parallel and self._wanted():
            self.running.append(self._start_next())

    def _wanted(self) -> bool:
        if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            return False
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        busy = sum(s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING) for s in states)
        return busy < self.target

    def _start_next(self) -> _Running:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize": we record it
            trial = self.study.ask()
        values = {name: param.suggest(trial) for name, param in self.spec.params.items()}
        run_dir = SweepLayout(self.sweep_dir).trial(trial.number)
        run = TrialRun(trial.number, run_dir, apply_params(self.spec.base, values), self.spec.metric)
        for key, value in {**self.worker.attrs(), ATTR_RUN_DIR: str(run_dir.resolve())}.items():
            trial.set_user_attr(key, value)
        identity = {"sweep": str(self.sweep_dir.resolve()), "study": self.spec.name, "trial": trial.number,
                    "values": values,
                    "retry_of": self.opened.storage.get_trial_system_attrs(trial._trial_id).get("failed_trial")}
        run.start(identity, threads=self.threads, env=self.env)
        trial.set_user_attr(ATTR_TRAINER_PID, run.process.pid)
        trial.set_user_attr(ATTR_TRAINER_STARTED, run.pid_started)
        self.opened.storage.record_heartbeat(trial._trial_id)
        return _Running(trial, run)

    # ---- following -----------------------------------------------------------------------------------
    def follow(self) -> None:
        now = time.monotonic()
        for item in self.running:
            for epoch, value in item.run.poll():
                item.trial.report(value, epoch)
                if item.trial.should_prune():
                    item.run.stop("pruned")
            if now - item.beat_at >= HEARTBEAT_S:
                self.opened.storage.record_heartbeat(item.trial._trial_id)
                item.beat_at = now

    def collect_finished(self) -> None:
        still = []
        for item in self.running:
            code = item.run.exit_code
            if code is None:
                still.append(item)
                continue
            item.run.poll()  # the last epoch records, written just before the exit
            self._tell(item, code)
        if len(still) != len(self.running):
            write_results(self.sweep_dir, self.study, self.spec)
        self.running = still

    def _tell(self, item: _Running, code: int) -> None:
        trial, run = item.trial, item.run
        value = run.summary_value(self.spec.summary, self.spec.direction)
        if run.stop_asked == "pruned" or code == EXIT_DIVERGED:
            # A diverged trial is a (very) poor result, not a broken one: pruned, TPE learns to avoid it.
            outcome = "pruned" if run.stop_asked == "pruned" else "diverged"
            trial.set_user_attr(ATTR_OUTCOME, outcome)
            self.study.tell(trial, state=TrialState.PRUNED)
            self.failures_in_a_row = 0
        elif code == EXIT_OK and value is not None:
            trial.set_user_attr(ATTR_OUTCOME, "complete")
            self.study.tell(trial, value)
            self.failures_in_a_row = 0
        else:
            message = run.log_tail() or f"the trial's training exited with status {code}"
            trial.set_user_attr(ATTR_OUTCOME, "failed")
            trial.set_user_attr(ATTR_MESSAGE, message)
            self.study.tell(trial, state=TrialState.FAIL)
            self.failures_in_a_row += 1
            if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                self.stop_message = f"{self.failures_in_a_row} trials in a row failed; the last said: {message}"

    def finished_count(self) -> int:
        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def status_line(self) -> str:
        running = ", ".join(f"trial {i.run.number}" + (f" epoch {i.run.values[-1][0]}" if i.run.values else "")
                            for i in self.running)
        return f"running {running}" if running else ""

    # ---- stopping ------------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Stop every running trial (SIGINT, then wait for its last.pt) and queue it again for a later run."""
        for item in self.running:
            item.run.stop("cancelled")
        for item in self.running:
            item.run.wait()
            fail_and_requeue(self.opened, item.trial._trial_id, "the sweep was stopped while it ran")
        self.running = []
