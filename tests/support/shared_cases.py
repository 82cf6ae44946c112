"""Shared folders (issue 18): each case crafts one hostile folder, runs one thing the app does with it, and
judges the outcome, with one more verdict than tests.support.cases: `outside_touched` (a decoy tree outside
the folder was created in, changed, moved or truncated; tests.support.decoys).

SHARED_KINDS maps an action to the classes it is run on; SHARED_ACTIONS an action to its function
(case, scratch, ctx) -> Outcome. benchmarks/robustness.py plans cases from SHARED_KINDS and
tests.support.cases.run_case dispatches them here; tests/core/test_shared_run_folders.py runs the same
functions. Run folders: the classes of tests.support.hostile_runs. Shared datasets add their own actions and
classes to these two dicts (the dataset engineer's half).

Actions on a run folder:
  list     the Runs tab's index, the crafted run beside a good one (the good row must stay whole)
  follow   the Train tab's one look at a run (core.processes.watch), three times
  dossier  the Dossier's readers (layer health, probes, top images)
  actions  name, note, settings, control file, rank files, trash and undo
  history  the whole-file readers: lineage, metrics CSV, TensorBoard export
  claim    the lock: resume in place, then a new run with --overwrite
  resume   `train --resume` with every writer on (dossier, layer health, probes, TensorBoard, evaluation)
  overwrite `train --out RUN --overwrite`;  out  `train --out RUN` (refused: the folder holds a run)
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from tests.support import hostile_runs as hr
from tests.support.cases import Case, Outcome, call_cli, crash_detail
from tests.support.decoys import Decoy

READ_ACTIONS = ("list", "follow", "dossier", "actions", "history", "claim")
TRAIN_ACTIONS = ("resume", "overwrite", "out")
# A training action on every class is minutes each: these are the classes it runs on (every writer's links,
# the lock's, a leftover pause, the numbers a resume reads back).
TRAIN_KINDS = tuple(k for k in hr.RUN_KINDS if k.startswith(("link_", "hard_", "temp_")) or k in (
    "leftover_pause", "fifo_lock", "fifo_control", "fifo_layer_health", "fifo_probes_timeline", "fifo_topk",
    "zero_control", "deep_control", "number_version_null", "number_int_beyond_float", "many_ranks"))

SHARED_KINDS: dict[str, tuple[str, ...]] = {
    **{f"run_{action}": tuple(hr.RUN_KINDS) for action in READ_ACTIONS},
    **{f"run_{action}": TRAIN_KINDS for action in TRAIN_ACTIONS},
}
try:  # the shared-dataset half (corrections, move logs, settings files, evaluations, CIFAR): action "shared"
    from tests.support.shared_datasets import KINDS as DATASET_KINDS
except ImportError:  # not merged into this branch yet
    DATASET_KINDS = {}
if DATASET_KINDS:
    SHARED_KINDS["shared"] = tuple(DATASET_KINDS)


class Judge:
    """Collects what is wrong with one case; the first problem decides the verdict."""

    def __init__(self, case: Case):
        self.case = case
        self.problems: list[tuple[str, str]] = []

    def wrong(self, verdict: str, detail: str) -> None:
        self.problems.append((verdict, detail))

    def outcome(self, decoy: Decoy) -> Outcome:
        changes = decoy.changes()
        if changes:
            return Outcome(self.case, "outside_touched", "; ".join(changes[:3]))
        if self.problems:
            return Outcome(self.case, *self.problems[0])
        return Outcome(self.case, "ok")


def _named(message: str, plant: hr.Plant) -> bool:
    return plant.path.name in message


def _allowed(judge: Judge, plant: hr.Plant, what: str, call: Callable, refusals: tuple[type, ...] = ()):
    """Run `call`; an exception of `refusals` must name the crafted file, anything else is a traceback."""
    try:
        return call()
    except refusals as exc:
        if not _named(str(exc), plant) and plant.path.name not in str(getattr(exc, "filename", "") or ""):
            judge.wrong("wrong_file", f"{what}: the refusal does not name {plant.path.name}: {str(exc)[:160]}")
    except Exception as exc:  # noqa: BLE001 - what the harness looks for
        judge.wrong("traceback", f"{what}: {type(exc).__name__}: {str(exc)[:160]}")
    return None


def _setup(case: Case, scratch: Path, ctx: dict) -> tuple[Path, Path, Decoy, hr.Plant]:
    runs = scratch / "runs"
    good = hr.copy_run(ctx["run_template"], runs / "good")
    bad = hr.copy_run(ctx["run_template"], runs / "bad")
    decoy = Decoy(scratch / "outside")
    plant = hr.plant(case.kind, bad, decoy, case.seed)
    return good, bad, decoy, plant


# ---- reading ---------------------------------------------------------------------------------------------
def _list(case, scratch, ctx) -> Outcome:
    from core.runs.index import RunIndex

    good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    index = RunIndex(good.parent)
    for _ in range(2):  # a first scan, then one that reads only what changed
        rows = _allowed(judge, plant, "scan", index.scan) or []
        by_path = {row.path: row for row in rows}
        row = by_path.get(str(good))
        if row is None or row.status != "finished" or row.epochs_done != 1 or row.error:
            judge.wrong("good_result_lost", f"the good run's row: {row}")
        if str(bad) not in by_path:
            judge.wrong("good_result_lost", "the crafted run has no row")
        elif plant.path.name in ("config.json", "run_meta.json", "metrics.jsonl") and \
                case.kind.startswith(("fifo_", "zero_", "sparse_", "deep_", "text_")) and \
                plant.path.name not in by_path[str(bad)].error:
            judge.wrong("wrong_file", f"the row does not name {plant.path.name}: {by_path[str(bad)].error[:160]!r}")
    return judge.outcome(decoy)


def _follow(case, scratch, ctx) -> Outcome:
    from core.processes.watch import RunFolderWatch

    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    watch = RunFolderWatch(bad)
    for _ in range(3):
        look = _allowed(judge, plant, "poll", watch.poll)
        if look is not None and plant.path.name == "config.json" and isinstance(look.config, str) and \
                not _named(look.config, plant):
            judge.wrong("wrong_file", f"the settings message does not name config.json: {look.config[:120]}")
    return judge.outcome(decoy)


def _dossier(case, scratch, ctx) -> Outcome:
    from core.dossier.health import read_health
    from core.dossier.probes import read_probes
    from core.dossier.store import DossierFileError, load_topk, topk_path
    from core.io.small_files import SmallFileError

    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    refusals = (SmallFileError, DossierFileError)
    _allowed(judge, plant, "layer health", lambda: read_health(bad), refusals)
    _allowed(judge, plant, "probes", lambda: read_probes(bad), refusals)
    _allowed(judge, plant, "top images", lambda: load_topk(topk_path(bad)), refusals)
    return judge.outcome(decoy)


def _actions(case, scratch, ctx) -> Outcome:
    from core.io.atomic import LinkRefused
    from core.runs.actions import RunActionError, read_meta, rename_run, restore_run, run_settings, set_note, trash_run
    from core.runs.control import read_control, write_control
    from core.runs.rank_status import read_rank_statuses

    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    _allowed(judge, plant, "read the name", lambda: read_meta(bad))
    _allowed(judge, plant, "settings", lambda: run_settings(bad), (RunActionError,))
    _allowed(judge, plant, "rename", lambda: rename_run(bad, "renamed"), (RunActionError,))
    _allowed(judge, plant, "note", lambda: set_note(bad, "noted"), (RunActionError,))
    _allowed(judge, plant, "read control", lambda: read_control(bad))
    _allowed(judge, plant, "pause", lambda: write_control(bad, pause=True, by="a test"), (LinkRefused, OSError))
    ranks = _allowed(judge, plant, "rank files", lambda: read_rank_statuses(bad))
    if ranks is not None and len(ranks) > 256:
        judge.wrong("wrong_file", f"{len(ranks)} rank files read: the list is not capped")
    trashed = _allowed(judge, plant, "trash", lambda: trash_run(bad, bad.parent), (RunActionError,))
    if trashed is not None:
        _allowed(judge, plant, "undo trash", lambda: restore_run(trashed), (RunActionError,))
    return judge.outcome(decoy)


def _history(case, scratch, ctx) -> Outcome:
    from core.runs.history import LineageReader, fold, last_record
    from core.runs.metrics_csv import write_metrics_csv

    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    _allowed(judge, plant, "lineage", lambda: list(LineageReader(bad)), (OSError,))
    _allowed(judge, plant, "fold", lambda: fold(bad).status(0.0), (OSError,))
    _allowed(judge, plant, "last record", lambda: last_record(bad, lambda r: True))
    _allowed(judge, plant, "metrics CSV", lambda: write_metrics_csv(bad, scratch / "metrics.csv"), (OSError,))
    if ctx.get("tensorboard", True):
        from core.training.tensorboard import export_run

        _allowed(judge, plant, "TensorBoard export", lambda: export_run(bad, scratch / "tb"), (OSError,))
    return judge.outcome(decoy)


def _claim(case, scratch, ctx) -> Outcome:
    from core.runs.layout import PREVIOUS_PREFIX
    from core.runs.lock import RunFolderError, claim_run_folder

    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    lock = _allowed(judge, plant, "claim to resume", lambda: claim_run_folder(bad, resuming_here=True),
                    (RunFolderError,))
    if lock is not None:
        lock.release()
    lock = _allowed(judge, plant, "claim with --overwrite",
                    lambda: claim_run_folder(bad, resuming_here=False, overwrite=True), (RunFolderError,))
    if lock is not None:
        lock.release()
        made = [p for p in bad.iterdir() if p.name.startswith(PREVIOUS_PREFIX) and not p.is_symlink()]
        if not made:
            judge.wrong("wrong_file", "--overwrite made no previous-<time>/ folder of its own")
    return judge.outcome(decoy)


# ---- training --------------------------------------------------------------------------------------------
TRAIN_FLAGS = ["--epochs", "2", "--dossier", "--layer-health-every", "2", "--tensorboard", "--quiet", "--device", "cpu"]
NEW_RUN = ["--dataset", "shapes", "--model", "mlp", "--hidden", "8", "--image-size", "16", "--shapes-count", "64",
           "--batch-size", "16"]


def _train(case, scratch, ctx, argv_for: Callable[[Path], list[str]], refused_ok: bool) -> Outcome:
    _good, bad, decoy, plant = _setup(case, scratch, ctx)
    judge = Judge(case)
    cap = call_cli(["train", *argv_for(bad), "--probe", str(ctx["probe"]), *TRAIN_FLAGS])
    why = crash_detail(cap)
    if why is not None:
        judge.wrong("traceback", why)
    elif cap.rc != 0 and not (refused_ok or plant.blocks_training):
        judge.wrong("good_result_lost", f"rc {cap.rc}: {cap.err.getvalue()[-200:]}")
    elif cap.rc != 0 and plant.path.name not in cap.err.getvalue() and not refused_ok:
        judge.wrong("wrong_file", f"rc {cap.rc} without naming {plant.path.name}: {cap.err.getvalue()[-200:]}")
    return judge.outcome(decoy)


def _resume(case, scratch, ctx) -> Outcome:
    return _train(case, scratch, ctx, lambda run: ["--resume", str(run / "last.pt")], refused_ok=False)


def _overwrite(case, scratch, ctx) -> Outcome:
    return _train(case, scratch, ctx, lambda run: [*NEW_RUN, "--out", str(run), "--overwrite"], refused_ok=False)


def _out(case, scratch, ctx) -> Outcome:
    return _train(case, scratch, ctx, lambda run: [*NEW_RUN, "--out", str(run)], refused_ok=True)


# ---- two processes at once -------------------------------------------------------------------------------
LONG_RUN = ["train", *NEW_RUN, "--epochs", "3", "--shapes-count", "600", "--batch-size", "8", "--quiet", "--device",
            "cpu", "--heartbeat-s", "0.5"]
TWO_TIMEOUT_S = 240


def _wait_for(predicate: Callable[[], bool], proc, timeout: float) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _started(run: Path) -> Callable[[], bool]:
    return lambda: (run / "metrics.jsonl").is_file() and b'"kind":"step"' in (run / "metrics.jsonl").read_bytes()


def _two(case, scratch, ctx) -> Outcome:
    """A run writing its folder while a second process acts on the same folder: the second `train` is
    refused by the lock, the readers and the user's actions never break the run, and the run ends whole."""
    from core.runs.actions import read_meta, rename_run, set_note
    from core.runs.control import write_control
    from core.runs.index import RunIndex
    from core.processes.watch import RunFolderWatch
    from tests.support.signals import cli, finish

    judge = Judge(case)
    decoy = Decoy(scratch / "outside")
    run = scratch / "runs" / "shared"
    first = cli([*LONG_RUN, "--out", str(run)], start_new_session=True)
    try:
        if not _wait_for(_started(run), first, TWO_TIMEOUT_S):
            finish(first, 5)
            return Outcome(case, "harness_error", "the first run never wrote a step record")
        if case.kind in ("new_run", "overwrite", "resume"):
            extra = {"new_run": ["--out", str(run)], "overwrite": ["--out", str(run), "--overwrite"],
                     "resume": ["--resume", str(run / "last.pt"), "--out", str(run)]}[case.kind]
            # Paused, the first run holds its folder until the second has tried: on a loaded machine it could
            # otherwise end first, and then an overwrite or resume would rightly succeed.
            write_control(run, pause=True, by="a test holding the first run")
            if not _wait_for(lambda: b'"kind":"paused"' in (run / "metrics.jsonl").read_bytes(), first, 60):
                finish(first, 5)
                return Outcome(case, "harness_error", "the first run did not pause while the second tried")
            rc, _out, err = finish(cli(["train", *NEW_RUN, "--epochs", "1", "--quiet", "--device", "cpu", *extra]),
                                   TWO_TIMEOUT_S)
            if rc is None:
                judge.wrong("hang", f"the second train ({case.kind}) did not end")
            elif "Traceback" in err:
                judge.wrong("traceback", err.strip().splitlines()[-1][:200])
            elif rc == 0:
                judge.wrong("wrong_file", f"a second train ({case.kind}) wrote a folder another run was writing")
            write_control(run, pause=False, by="a test holding the first run")
        elif case.kind == "readers":
            index, watch = RunIndex(run.parent), RunFolderWatch(run)
            while first.poll() is None:
                _allowed(judge, hr.Plant(case.kind, run), "scan", index.scan)
                _allowed(judge, hr.Plant(case.kind, run), "poll", watch.poll)
        elif case.kind == "rename":
            n = 0
            while first.poll() is None:
                n += 1
                _allowed(judge, hr.Plant(case.kind, run), "rename", lambda: rename_run(run, f"name {n}"))
                _allowed(judge, hr.Plant(case.kind, run), "note", lambda: set_note(run, f"note {n}"))
            if read_meta(run).get("name") != f"name {n}":
                judge.wrong("wrong_file", f"the last rename is lost: {read_meta(run)}")
        elif case.kind == "pause":
            write_control(run, pause=True, by="a test's second window")
            if not _wait_for(lambda: b'"kind":"paused"' in (run / "metrics.jsonl").read_bytes(), first, 60):
                judge.wrong("wrong_file", "the run did not pause")
            write_control(run, pause=False, by="a test's second window")
        rc, out, err = finish(first, TWO_TIMEOUT_S)
        if rc is None:
            judge.wrong("hang", "the first run did not end")
        elif rc != 0 or "Traceback" in err:
            judge.wrong("good_result_lost", f"the first run failed (rc {rc}): {err.strip()[-200:]}")
        elif case.kind == "pause" and "paused by a test's second window" not in out:
            judge.wrong("wrong_file", "the run did not say who paused it")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    return judge.outcome(decoy)


TWO_KINDS = ("new_run", "overwrite", "resume", "readers", "rename", "pause")
SHARED_KINDS["run_two"] = TWO_KINDS


SHARED_ACTIONS: dict[str, Callable] = {
    "run_two": _two,
    "run_list": _list, "run_follow": _follow, "run_dossier": _dossier, "run_actions": _actions,
    "run_history": _history, "run_claim": _claim, "run_resume": _resume, "run_overwrite": _overwrite, "run_out": _out,
}


def run_shared(case: Case, scratch: Path, ctx: dict) -> Outcome:
    try:
        return SHARED_ACTIONS[case.action](case, scratch, ctx)
    finally:
        shutil.rmtree(scratch / "runs", ignore_errors=True)
