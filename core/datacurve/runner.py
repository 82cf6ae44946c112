"""Train the current settings on nested subsets of the training split, one ordinary run folder per fraction
under one out folder (OUT/fraction-010/, ...), each for about as many optimizer steps as the whole split takes in
the settings' epochs (core.datacurve.budget: a 10 % subset trains about 10x the epochs), then fit the curve and write OUT/points.csv, OUT/curve.json
and, when matplotlib is installed, OUT/curve.png. Progress and cancel go through core.progress: a cancel
stops the run in progress at its next step and ends the pass with Cancelled. On a machine with cores to spare
(workers > 1) the fractions train side by side, each in a process of its own with its share of the cores."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from core.datacurve.budget import equal_steps, stretched
from core.datacurve.fit import CurveFit, classes_needing_photos, fit_curve
from core.datacurve.subsets import nested_subsets
from core.errors import Cancelled
from core.io.atomic import atomic_write, write_csv_atomic, write_text_atomic
from core.progress import NO_PROGRESS, Progress, share
from core.training.callbacks import Callback

POINTS = "points.csv"
SUMMARY = "curve.json"
PLOT = "curve.png"
DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


class _LabelledSubset(Subset):
    """A Subset that still tells its labels (what samplers and summaries read)."""

    @property
    def labels(self) -> list[int]:
        labels = self.dataset.labels
        return [int(labels[i]) for i in self.indices]


class _Follow(Callback):
    """Reports the run's steps as the pass's progress and stops the run when the pass is cancelled."""

    def __init__(self, progress: Progress, label: str):
        self.progress, self.label = progress, label

    def on_train_step(self, run) -> None:
        if self.progress.cancelled():
            run.stop()

    def on_batch_end(self, run, report) -> None:
        self.progress.update(report.step, max(1, report.total_steps), self.label)


@dataclass
class CurvePoint:
    fraction: float
    run_dir: Path
    train_images: int
    per_class: float  # training images per class (mean)
    accuracy: float  # validation accuracy of the final model
    val_images: int
    class_accuracy: dict[str, float] = field(default_factory=dict)
    epochs: int = 0  # the epochs it trained (core.datacurve.budget: about the full split's steps)
    steps: int = 0  # the optimizer steps they took


@dataclass
class CurveResult:
    out: Path
    points: list[CurvePoint]
    fit: CurveFit | None
    needs_photos: list[dict]
    plot: Path | None
    plot_note: str = ""

    def summary(self) -> dict:
        return {"out": str(self.out), "points": len(self.points),
                "fit": self.fit.to_dict() if self.fit else None,
                "sentence": self.fit.sentence() if self.fit else "too few points to fit a curve",
                "classes_needing_photos": self.needs_photos, "plot": str(self.plot) if self.plot else None,
                "plot_note": self.plot_note or None}


def _validate(model, dataset, classes: list[str], batch_size: int) -> tuple[float, dict[str, float], int]:
    from core.data import make_loader

    device = next(model.parameters()).device
    model.eval()
    right = np.zeros(len(classes)), np.zeros(len(classes))
    with torch.inference_mode():
        for inputs, labels in make_loader(dataset, batch_size, shuffle=False):
            guess = model(inputs.to(device)).argmax(dim=1).cpu().numpy()
            labels = np.asarray(labels)
            np.add.at(right[0], labels, guess == labels)
            np.add.at(right[1], labels, 1)
    total = int(right[1].sum())
    per_class = {c: float(right[0][i] / right[1][i]) for i, c in enumerate(classes) if right[1][i]}
    return float(right[0].sum() / max(1, total)), per_class, total


def fraction_folder(out: Path, fraction: float) -> Path:
    return out / f"fraction-{round(fraction * 100):03d}"


def run_point(settings, out: Path, fraction: float, rows: np.ndarray, progress: Progress,
              full_images: int | None = None) -> CurvePoint:
    """Train one fraction (rows of the training split) for as many optimizer steps as the whole split of
    `full_images` takes in settings.train.epochs (core.datacurve.budget), and validate its final model."""
    from core.runs.directory import RunDirectory
    from core.training.session import prepare_trainer

    run_dir = fraction_folder(out, fraction)
    budget = equal_steps(settings.train.epochs, settings.train.batch_size, len(rows), full_images or len(rows))
    settings = replace(settings, train=stretched(settings.train, budget))
    label = f"training on {fraction:.0%} of the photos ({budget.epochs} epochs, {budget.steps} steps)"
    trainer = prepare_trainer(settings, run_dir, callbacks=[_Follow(progress, label)], overwrite=True)
    full = trainer.data.train
    trainer.data.train = _LabelledSubset(full, rows.tolist())
    run = RunDirectory(run_dir)
    config = json.loads(run.config.read_text(encoding="utf-8"))
    run.write_config({**config, "data_curve": {"fraction": fraction, "train_images": len(rows),
                                               "of": len(full), "seed": settings.data.seed, **budget.to_dict()}})
    trainer.fit()
    if progress.cancelled():
        raise Cancelled("the data-size curve was cancelled")
    classes = list(trainer.data.classes)
    accuracy, per_class, val_images = _validate(trainer.model, trainer.data.val, classes,
                                                settings.train.batch_size * 2)
    return CurvePoint(fraction, run_dir, len(rows), len(rows) / max(1, len(classes)), accuracy, val_images,
                      per_class, budget.epochs, budget.steps)


def _train_labels(settings) -> list[int]:
    from core.data import build_data
    from core.models.torchvision_models import data_spec_for_model

    spec = data_spec_for_model(settings.data, settings.model_name, settings.model_options)
    return [int(v) for v in build_data(spec).train.labels]


CANCEL_FILE = ".cancel"  # parallel fractions: the parent asks its worker processes to stop through this file
THREADS_PER_RUN = 4  # a run uses up to this many cores; more cores train fractions side by side


def auto_workers(fractions: int, cores: int | None = None) -> int:
    """How many fractions to train at once: one per THREADS_PER_RUN cores, at least one."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(fractions, cores // THREADS_PER_RUN))


def run_data_curve(settings, out: str | os.PathLike, fractions=DEFAULT_FRACTIONS, *,
                   progress: Progress = NO_PROGRESS, workers: int | None = 1) -> CurveResult:
    """Train each fraction, fit the curve, write the points, the summary and the plot. workers > 1 (None:
    auto_workers) trains that many fractions at once, each in its own process with its share of the cores."""
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    labels = _train_labels(settings)
    subsets = nested_subsets(labels, fractions, seed=settings.data.seed)
    workers = auto_workers(len(subsets)) if workers is None else max(1, int(workers))
    if workers > 1:
        points = _in_parallel(settings, out, subsets, workers, progress, len(labels))
        return finish(out, points, seed=settings.data.seed)
    points = []
    for i, (fraction, rows) in enumerate(subsets.items()):
        progress.check_cancelled()
        stage = share(progress, i / len(subsets), (i + 1) / len(subsets))
        points.append(run_point(settings, out, fraction, rows, stage, len(labels)))
    return finish(out, points, seed=settings.data.seed)


class _FileCancel:
    """A Progress for a worker process: cancelled once the parent has written OUT/.cancel (checked at most
    every half second)."""

    def __init__(self, out: Path):
        self.flag, self.seen, self.checked = out / CANCEL_FILE, False, 0.0

    def update(self, done: int, total: int, message: str = "") -> None:
        pass

    def cancelled(self) -> bool:
        import time

        now = time.monotonic()
        if not self.seen and now - self.checked > 0.5:
            self.checked, self.seen = now, self.flag.exists()
        return self.seen

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled("the data-size curve was cancelled")


def _point_in_worker(settings_dict: dict, out: str, fraction: float, rows: list[int], threads: int,
                     full_images: int) -> CurvePoint:
    from core.training.session import RunSettings

    torch.set_num_threads(max(1, threads))
    return run_point(RunSettings.from_dict(settings_dict), Path(out), fraction, np.asarray(rows), _FileCancel(Path(out)),
                     full_images)


def _in_parallel(settings, out: Path, subsets: dict, workers: int, progress: Progress,
                 full_images: int) -> list[CurvePoint]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    (out / CANCEL_FILE).unlink(missing_ok=True)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = {pool.submit(_point_in_worker, settings.to_dict(), str(out), f, rows.tolist(), threads, full_images)
                   for f, rows in subsets.items()}
        points = []
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            points += [future.result() for future in done]
            progress.update(len(points), len(subsets), f"{len(points)} of {len(subsets)} fractions trained")
            progress.check_cancelled()
        return sorted(points, key=lambda p: p.fraction)
    except BaseException:
        write_text_atomic(out / CANCEL_FILE, "cancelled\n")  # the workers stop at their next step
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        (out / CANCEL_FILE).unlink(missing_ok=True)


def finish(out: Path, points: list[CurvePoint], seed: int = 0) -> CurveResult:
    n = [p.per_class for p in points]
    classes = sorted({c for p in points for c in p.class_accuracy})
    chance = 1 / len(classes) if classes else None  # guessing's accuracy: where the logistic form starts
    fit = fit_curve(n, [p.accuracy for p in points], [p.val_images for p in points], chance=chance, seed=seed)
    per_class = {c: [p.class_accuracy.get(c, 0.0) for p in points] for c in classes}
    result = CurveResult(out, points, fit, classes_needing_photos(n, per_class, chance=chance), None)
    write_points(out / POINTS, points, classes)
    result.plot, result.plot_note = draw_plot(out / PLOT, points, fit)
    write_text_atomic(out / SUMMARY, json.dumps(result.summary(), indent=2) + "\n")
    return result


def write_points(path: Path, points: list[CurvePoint], classes: list[str]) -> Path:
    header = ["fraction", "train_images", "images_per_class", "val_accuracy", "val_images", "run", "epochs",
              "steps"] + [f"accuracy_{c}" for c in classes]
    rows = [[p.fraction, p.train_images, f"{p.per_class:.2f}", f"{p.accuracy:.4f}", p.val_images, p.run_dir.name,
             p.epochs, p.steps] + [f"{p.class_accuracy.get(c, float('nan')):.4f}" for c in classes] for p in points]
    return write_csv_atomic(path, header, rows)


def draw_plot(path: Path, points: list[CurvePoint], fit: CurveFit | None) -> tuple[Path | None, str]:
    """The curve as a PNG with matplotlib (off-screen); skipped with a note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        return None, "matplotlib is not installed: no PNG (the points and the fit are in the CSV and JSON)"
    figure = Figure(figsize=(6, 4), dpi=100)
    ax = figure.add_subplot()
    n = np.array([p.per_class for p in points])
    ax.plot(n, [100 * p.accuracy for p in points], "o", label="measured", color="#1f77b4")
    if fit is not None:
        grid = np.geomspace(n.min(), fit.n_max * 4, 100)
        ax.plot(grid, 100 * fit.at(grid), "-", color="#ff7f0e", label=f"{fit.form} fit")
        for m, (low, high) in fit.bands.items():
            ax.errorbar([fit.n_max * m], [100 * fit.predictions[m]],
                        yerr=[[100 * (fit.predictions[m] - low)], [100 * (high - fit.predictions[m])]],
                        fmt="s", color="#d62728", capsize=4, label="extrapolated (90 % band)" if m == 2 else None)
        ax.set_title(fit.sentence(), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("training images per class")
    ax.set_ylabel("validation accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(path, lambda fh: figure.savefig(fh, format="png"))
    return path, ""
