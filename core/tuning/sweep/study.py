"""The Optuna side of a sweep: the study in its storage (SQLite in the sweep folder, or any RDB URL such as
postgresql://... that several machines share), its sampler and pruner, and putting back trials whose worker died.

A trial belongs to the worker process that asked for it (host, pid and the pid's start time, in its user
attributes). A worker that starts finds RUNNING trials of dead workers on its own host at once (their pid is
gone, or is another process now) and fails them; those of other hosts are found by Optuna's heartbeat (every
worker records one per running trial; a trial silent for GRACE_S is stale). Each failed trial is queued again
with the same values (Optuna's RetryHeartbeatStaleTrialCallback), so a restarted sweep re-runs it.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import warnings
from dataclasses import dataclass

import optuna
import psutil
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from core.tuning.sweep.spec import SweepSpec
from core.errors import LayerscopeError

HEARTBEAT_S = 10  # a running trial's heartbeat in the study, recorded by its worker
GRACE_S = 60  # silent this long: the worker on another machine is gone
MAX_RETRIES = 3  # a trial re-run this often after dead workers is not queued again
OPEN_ATTEMPTS = 5
SPEC_ATTR = "layerscope_spec"  # the study remembers the definition, so a worker with another one is refused

ATTR_HOST, ATTR_PID, ATTR_STARTED = "worker_host", "worker_pid", "worker_started"
ATTR_TRAINER_PID, ATTR_TRAINER_STARTED = "trainer_pid", "trainer_started"
ATTR_RUN_DIR, ATTR_OUTCOME, ATTR_MESSAGE = "run_dir", "outcome", "message"


class SweepStudyError(LayerscopeError, RuntimeError):
    """The study cannot be used as asked (another sweep under the same name, an unreachable storage)."""


@dataclass(frozen=True)
class Worker:
    host: str
    pid: int
    started: float  # the process's start time: a reused pid is another process

    @classmethod
    def this(cls) -> "Worker":
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    def attrs(self) -> dict:
        return {ATTR_HOST: self.host, ATTR_PID: self.pid, ATTR_STARTED: self.started}


@dataclass
class OpenedStudy:
    study: optuna.Study
    storage: RDBStorage
    created: bool  # this call created the study (the first worker of a new sweep)


def open_study(spec: SweepSpec, storage_url: str, trials: int | None = None) -> OpenedStudy:
    """trials: how many this sweep means to run (sizes TPE's random start; default spec.trials)."""
    storage = _storage(storage_url)
    trials = trials or spec.trials
    direction = spec.direction
    pruner = _pruner(spec)
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=direction, pruner=pruner,
                                    sampler=make_sampler(spec, spec.seed, trials))
        study.set_user_attr(SPEC_ATTR, _comparable(spec))
        return OpenedStudy(study, storage, created=True)
    except optuna.exceptions.DuplicatedStudyError:
        pass
    # Joining or resuming: a fresh random seed, so this worker does not propose what the first one already did.
    study = optuna.load_study(study_name=spec.name, storage=storage, pruner=pruner,
                              sampler=make_sampler(spec, None, trials))
    known = study.user_attrs.get(SPEC_ATTR)
    if known is not None and known != _comparable(spec):
        raise SweepStudyError(f"the study {spec.name!r} in this storage was started with another sweep definition; "
                              "give this sweep another name, or use the definition it was started with")
    if study.direction.name.lower() != direction:
        raise SweepStudyError(f"the study {spec.name!r} {study.direction.name.lower()}s; this definition {direction}s")
    return OpenedStudy(study, storage, created=False)


def _storage(url: str) -> RDBStorage:
    """The study's storage. Two workers meeting an empty database at once both try to create its tables and one
    of them fails: a few tries, a moment apart, let the other finish."""
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(OPEN_ATTEMPTS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
            try:
                return RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                  grace_period=GRACE_S,
                                  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(MAX_RETRIES))
            except ImportError as exc:
                raise SweepStudyError(f"{masked(url)}: the database driver is not installed ({exc})") from None
            except Exception as exc:  # sqlalchemy's OperationalError, IntegrityError...: busy or unreachable
                if attempt == OPEN_ATTEMPTS - 1:
                    raise SweepStudyError(f"{masked(url)}: cannot open the study storage ({str(exc)[:200]})") from None
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


class _AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler for ask-and-tell: its after_trial calls study.stop() once the grid is done, which raises
    outside study.optimize(); the sweep stops by counting trials (capped at the grid's size) instead."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def make_sampler(spec: SweepSpec, seed: int | None, trials: int):
    if spec.sampler == "grid":
        return _AskTellGridSampler(spec.grid, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # n_startup_trials: Optuna's 10 random trials first would leave a 12-trial sweep 2 guided ones; a third of
    # the sweep (3 to 10) is random here. constant_liar: trials still running count as (pessimistic) results,
    # so K parallel trials spread out instead of all sampling the same promising spot.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                          n_startup_trials=max(3, min(10, trials // 3)))


def _pruner(spec: SweepSpec):
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.pruner_startup_trials,
                                           n_warmup_steps=spec.pruner_warmup_epochs)
    return optuna.pruners.NopPruner()


def _comparable(spec: SweepSpec) -> dict:
    """What two workers must agree on to share a study (the trial count may differ: --trials)."""
    d = spec.to_dict()
    d.pop("trials", None)
    return d


def masked(url: str) -> str:
    """A storage URL fit to print or save: without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


# ---- putting back the trials of dead workers ---------------------------------------------------------
def recover_dead_trials(opened: OpenedStudy) -> list[int]:
    """Fail (and queue again) the RUNNING trials whose worker on this host is gone, and let Optuna's heartbeat
    fail stale ones of other hosts. Returns the numbers this call failed."""
    study = opened.study
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get(ATTR_HOST) != host or process_alive(attrs.get(ATTR_PID), attrs.get(ATTR_STARTED)):
            continue
        stop_process(attrs.get(ATTR_TRAINER_PID), attrs.get(ATTR_TRAINER_STARTED))  # an orphaned trainer
        if fail_and_requeue(opened, trial._trial_id, "its sweep worker ended while it ran"):
            failed.append(trial.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return failed


def fail_and_requeue(opened: OpenedStudy, trial_id: int, why: str) -> bool:
    """Mark a running trial failed and queue its values again; False when another worker got there first."""
    storage = opened.storage
    with contextlib.suppress(Exception):
        storage.set_trial_user_attr(trial_id, ATTR_MESSAGE, why)
        storage.set_trial_user_attr(trial_id, ATTR_OUTCOME, "interrupted")
    try:
        if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
            return False
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(MAX_RETRIES)(opened.study, storage.get_trial(trial_id))
    return True


def process_alive(pid, started) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and (
            not isinstance(started, (int, float)) or abs(proc.create_time() - started) < 1.0)
    except psutil.Error:
        return False


def stop_process(pid, started) -> None:
    """SIGINT a trainer left running by a dead worker (it saves last.pt and exits), when it is still that one."""
    if process_alive(pid, started):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGINT)
