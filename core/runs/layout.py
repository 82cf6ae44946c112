"""What a run folder holds: the one place that names its files and folders.

    RUN/
      config.json          the settings the run was built from (core.runs.directory)
      metrics.jsonl        the run's records, appended line by line (core.runs.records, docs/records.md)
      last.pt, best.pt     checkpoints: the latest position, the best validation accuracy so far
      run_meta.json        the user's display name and note (core.runs.actions); the folder never moves
      control.json         pause / resume / stop asked from outside the run's processes (core.runs.control)
      .lock                held by the one process that writes the run (core.runs.lock)
      ranks/rank-N.json    each process's status in a multi-process run (core.runs.rank_status)
      launcher.log         a multi-process job's own output (the app's job)
      eval/, eval-<split>/ an evaluation of the run's model (core.evaluate)
      eval/label_issues.csv  label-issue scores of the run's dataset (`layerscope label-issues --out`), which the
                           Map tab can colour its points by (core.datamap.issue_scores)
      tensorboard/         TensorBoard event files (core.training.tensorboard)
      dossier/topk.npz     top images per channel (core.dossier.store)
      probes/              probe images followed over training: probes.json + timeline.jsonl (core.dossier.probes),
                           true_classes.json: the true class the user named for a probe (core.dossier.probe_reading)
      layer_health.jsonl   per-layer health samples (core.dossier.health)
      familiarity/         feature passes for familiarity and the map (core.familiarity.store):
                           features-<weights checksum>.npz per checkpoint, epoch-NNNN.npz per kept epoch
      best.familiarity.npz the feature bank that scores new images against best.pt (any CHECKPOINT.pt gets its
                           CHECKPOINT.familiarity.npz beside it; core.familiarity.bank_file)
      featurevis/          synthesised pictures of units (core.featurevis): <weights checksum>/ the cache of a
                           checkpoint's pictures, epochs/epoch-0003/ the first layer after each epoch,
                           concepts/ the concept tests run on the run's checkpoint
      previous-<time>/     an earlier run's files, moved aside by --overwrite (core.runs.lock)
      lr_find/             a learning-rate range test on the run's settings: lr_find.csv, .json, .png
                           (core.tuning.lr; `layerscope lr-find --out DIR` writes the three into DIR)
      sweep/               a sweep's trial only: trial.json (its sweep, number, values), settings.json (what it
                           was started with), train.log (its output) (core.tuning.sweep.trial)
    <runs root>/.trash/    deleted runs, until the deletion is undone (core.runs.actions)

    SWEEP/                 a sweep (core.tuning.sweep; beside the runs under the runs root, or anywhere)
      sweep.json           what the sweep is: its definition, the study's name and storage
      spec.json            the definition the app's New Sweep dialog wrote (a CLI sweep reads the user's file)
      study.db             the Optuna study (SQLite), unless the sweep uses another storage (--storage URL)
      trials/0000/         each trial: an ordinary run folder (see above), its number as its name
      results.csv, results.json, importances.json   one row per trial, and the settings' importances

Every module takes these names from here (a test in tests/core/test_run_layout.py scans for literals), so a
renamed file is renamed everywhere. Torch-free and Qt-free, like all of core.runs.
"""
from __future__ import annotations

import heapq
import os
from pathlib import Path

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
META = "run_meta.json"
CONTROL = "control.json"
LIVE = "live.pt"  # the answer to a snapshot request: the live model's weights, no training state
LOCK = ".lock"
RANKS = "ranks"
RANK_PREFIX, RANK_SUFFIX = "rank-", ".json"
LAUNCHER_LOG = "launcher.log"
EVAL = "eval"
LABEL_ISSUES_CSV = "label_issues.csv"  # inside EVAL
TENSORBOARD = "tensorboard"
DOSSIER = "dossier"
TOPK = "topk.npz"
PROBES = "probes"
PROBES_INDEX = "probes.json"
PROBES_TIMELINE = "timeline.jsonl"
PROBES_TRUE_CLASSES = "true_classes.json"
LAYER_HEALTH = "layer_health.jsonl"
FAMILIARITY = "familiarity"
FEATURES_PREFIX, EPOCH_FEATURES_PREFIX, FEATURES_SUFFIX = "features-", "epoch-", ".npz"
BANK_SUFFIX = ".familiarity.npz"  # best.pt -> best.familiarity.npz
FEATUREVIS = "featurevis"
FEATUREVIS_EPOCHS = "epochs"  # inside FEATUREVIS
EPOCH_PREFIX = "epoch-"  # FEATUREVIS/FEATUREVIS_EPOCHS/epoch-0003/
CONCEPTS = "concepts"  # inside FEATUREVIS
PREVIOUS_PREFIX = "previous-"
OLD_CHECKPOINTS = "checkpoints"  # an early layout's checkpoint folder: it still marks a folder as used
TRASH = ".trash"  # in the runs root, beside the run folders
LR_FIND = "lr_find"
LR_FIND_CSV, LR_FIND_JSON, LR_FIND_PNG = "lr_find.csv", "lr_find.json", "lr_find.png"
TRIAL = "sweep"  # inside a trial's run folder: what the sweep adds
TRIAL_FILE, TRIAL_SETTINGS, TRIAL_LOG = "trial.json", "settings.json", "train.log"
SWEEP_FILE = "sweep.json"
SWEEP_SPEC = "spec.json"
SWEEP_LOG = "sweep.log"  # what a sweep started from the app prints
STUDY_DB = "study.db"
TRIALS = "trials"
SWEEP_PREFIX = "sweep-"  # a sweep's default folder under the runs root: sweep-<its name>
RESULTS_CSV, RESULTS_JSON, IMPORTANCES_JSON = "results.csv", "results.json", "importances.json"
# A job's settings travel to its processes in a temp file (the system's temp folder, not the run folder).
JOB_SETTINGS_PREFIX, JOB_SETTINGS_SUFFIX = "layerscope-job-", ".json"

CHECKPOINTS = {"best": BEST, "last": LAST}  # the two a user opens, by what they are
# What makes a folder "used" by a run. tensorboard/ is not among them: the CLI opens its writer before the
# folder is claimed, so it may already exist (empty) for this very run.
RUN_FILES = (CONFIG, METRICS, LAST, BEST, OLD_CHECKPOINTS)
# What marks a folder as a run folder in a list of runs.
MARKERS = (CONFIG, METRICS, META)
# Everything a run leaves in its folder: --overwrite moves all of it into previous-<time>/, so nothing of the
# old run (its layer health, probes, dossier, evaluations, TensorBoard events, rank files) passes for the new
# one's. Not the lock (held by the new run), not launcher.log (the app's job opened it for the new run before
# the folder was claimed), not earlier previous-<time>/ folders; eval-<split>/ folders by their prefix.
ARTEFACTS = (CONFIG, METRICS, LAST, BEST, LIVE, META, CONTROL, RANKS, EVAL, TENSORBOARD, DOSSIER, PROBES,
             LAYER_HEALTH, OLD_CHECKPOINTS)
EVAL_PREFIX = f"{EVAL}-"


class RunLayout:
    """The paths of one run folder. Names only, apart from the three questions that list or stat the folder
    (rank_statuses, used_files, is_run_folder)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RunLayout) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST

    def checkpoint(self, which: str) -> Path:
        """"best" or "last"."""
        return self.path / CHECKPOINTS[which]

    @property
    def meta(self) -> Path:
        return self.path / META

    @property
    def control(self) -> Path:
        return self.path / CONTROL

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def ranks(self) -> Path:
        return self.path / RANKS

    def rank_status(self, rank: int) -> Path:
        return self.ranks / f"{RANK_PREFIX}{int(rank)}{RANK_SUFFIX}"

    def rank_statuses(self, limit: int | None = None) -> list[Path]:
        """The rank files there are now, by rank number; at most `limit` of them, the lowest ranks (a shared
        folder may hold thousands)."""
        try:
            with os.scandir(self.ranks) as entries:
                found = [(rank, e.name) for e in entries if (rank := rank_of(e.name)) is not None]
        except OSError:
            return []
        chosen = heapq.nsmallest(limit, found) if limit is not None else sorted(found)
        return [self.ranks / name for _, name in chosen]

    @property
    def launcher_log(self) -> Path:
        return self.path / LAUNCHER_LOG

    @property
    def label_issues(self) -> Path:
        """eval/label_issues.csv: the label-issue scores of the run's dataset, for the map's colours."""
        return self.path / EVAL / LABEL_ISSUES_CSV

    def eval_dir(self, split: str = "val") -> Path:
        """RUN/eval/ for the validation split, RUN/eval-<split>/ for another."""
        return self.path / (EVAL if split == "val" else f"{EVAL_PREFIX}{split}")

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def dossier(self) -> Path:
        return self.path / DOSSIER

    @property
    def topk(self) -> Path:
        return self.dossier / TOPK

    @property
    def probes(self) -> Path:
        return self.path / PROBES

    @property
    def layer_health(self) -> Path:
        return self.path / LAYER_HEALTH

    @property
    def familiarity(self) -> Path:
        return self.path / FAMILIARITY

    def checkpoint_features(self, weights_checksum: str) -> Path:
        """familiarity/features-<first 16 hex digits of the weights checksum>.npz: one checkpoint's feature pass."""
        return self.familiarity / f"{FEATURES_PREFIX}{weights_checksum[:16]}{FEATURES_SUFFIX}"

    def epoch_features(self, epoch: int) -> Path:
        """familiarity/epoch-0003.npz: the feature pass at the end of epoch 3."""
        return self.familiarity / f"{EPOCH_FEATURES_PREFIX}{int(epoch):04d}{FEATURES_SUFFIX}"

    @property
    def featurevis(self) -> Path:
        """The root of the pictures cache: one folder per checkpoint's weights inside."""
        return self.path / FEATUREVIS

    @property
    def featurevis_epochs(self) -> Path:
        return self.featurevis / FEATUREVIS_EPOCHS

    def featurevis_epoch(self, epoch: int) -> Path:
        """The first layer's pictures after `epoch` (0: the weights the run started from)."""
        return self.featurevis_epochs / f"{EPOCH_PREFIX}{int(epoch):04d}"

    @property
    def concepts(self) -> Path:
        return self.featurevis / CONCEPTS

    @property
    def lr_find(self) -> Path:
        return self.path / LR_FIND

    @property
    def trial(self) -> Path:
        """RUN/sweep/: what a sweep adds to its trial's run folder."""
        return self.path / TRIAL

    @property
    def trial_file(self) -> Path:
        return self.trial / TRIAL_FILE

    @property
    def trial_settings(self) -> Path:
        return self.trial / TRIAL_SETTINGS

    @property
    def trial_log(self) -> Path:
        return self.trial / TRIAL_LOG

    def previous(self, stamp: str, n: int = 1) -> Path:
        """previous-<stamp>/ (n == 1), else previous-<stamp>-<n>/."""
        return self.path / (f"{PREVIOUS_PREFIX}{stamp}" if n == 1 else f"{PREVIOUS_PREFIX}{stamp}-{n}")

    def used_files(self) -> list[str]:
        """The RUN_FILES present: a folder holding any of them holds a run."""
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def artefacts(self) -> list[str]:
        """The names of ARTEFACTS (and eval-<split>/ folders) present, links included and not followed."""
        try:
            with os.scandir(self.path) as entries:
                names = [e.name for e in entries]
        except OSError:
            return []
        return sorted(n for n in names if n in ARTEFACTS or n.startswith(EVAL_PREFIX))

    def is_run_folder(self) -> bool:
        return any((self.path / name).exists() for name in MARKERS)


class SweepLayout:
    """The paths of one sweep folder (core.tuning.sweep). Names only, apart from the two questions that look at
    the folder (is_sweep_folder, trial_folders)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def sweep_file(self) -> Path:
        return self.path / SWEEP_FILE

    @property
    def spec(self) -> Path:
        return self.path / SWEEP_SPEC

    @property
    def log(self) -> Path:
        return self.path / SWEEP_LOG

    @property
    def study_db(self) -> Path:
        return self.path / STUDY_DB

    @property
    def trials(self) -> Path:
        return self.path / TRIALS

    def trial(self, number: int) -> Path:
        """A trial's run folder: SWEEP/trials/0007/."""
        return self.trials / f"{int(number):04d}"

    @property
    def results_csv(self) -> Path:
        return self.path / RESULTS_CSV

    @property
    def results_json(self) -> Path:
        return self.path / RESULTS_JSON

    @property
    def importances(self) -> Path:
        return self.path / IMPORTANCES_JSON

    def default_storage(self) -> str:
        """The study's storage when none is given: SQLite in the sweep folder."""
        return f"sqlite:///{self.study_db.resolve()}"

    def is_sweep_folder(self) -> bool:
        return self.sweep_file.is_file() or self.spec.is_file()

    def trial_folders(self) -> list[Path]:
        """The trials' run folders there are now, by number (a name that is not a number is not a trial)."""
        try:
            with os.scandir(self.trials) as entries:
                found = [Path(e.path) for e in entries if e.name.isdigit() and e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
        return sorted(found, key=lambda p: int(p.name))


def rank_of(name: str) -> int | None:
    """N of a file named rank-N.json, else None."""
    middle = name[len(RANK_PREFIX):-len(RANK_SUFFIX)] if name.startswith(RANK_PREFIX) and name.endswith(RANK_SUFFIX) \
        else ""
    return int(middle) if middle.isdigit() and middle.isascii() and len(middle) <= 9 else None


def metrics_file(run: str | os.PathLike) -> Path:
    """A run folder's metrics.jsonl, or `run` itself when it names a file (a metrics file passed directly)."""
    path = Path(run).expanduser()
    return path if path.suffix == Path(METRICS).suffix or path.is_file() else path / METRICS


def trash_dir(runs_root: str | os.PathLike) -> Path:
    return Path(runs_root) / TRASH
