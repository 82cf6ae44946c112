"""Headless commands: `layerscope train|predict|inspect|dataset ...`. Thin over core; never imports Qt.

Exit status: 0 success, 1 some input failed (e.g. one image of several) or the run failed (out of memory,
disk full: the message says what to change), 2 bad usage or unusable input, 3 training diverged,
130 / 143 stopped by SIGINT (Ctrl+C) / SIGTERM (the run's last.pt is saved and can be resumed).
Failures are translated once, in main(): a message on stderr, never a traceback.
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from core import catalog
from core.cli.args import COMMANDS, build_parser, parse_augment, parse_options, parse_value
from core.runs import layout
from core.runs.location import default_runs_root, new_run_dir

__all__ = ["COMMANDS", "build_parser", "main"]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_FAILED = 1
DEBUG_ENV = "LAYERSCOPE_DEBUG"  # set to 1 to get the traceback of an unexpected error


# ---- train ---------------------------------------------------------------------------------------------
def _model_options(args) -> dict:
    options = parse_options(args.option)
    if args.hidden:
        options["hidden"] = [int(v) for v in args.hidden.split(",") if v.strip()]
    if args.pretrained:
        options["pretrained"] = True
    if args.weights:
        options["weights_path"] = str(Path(args.weights).expanduser().resolve())
    if args.freeze_backbone:
        options["freeze_backbone"] = True
    return options


def _default_run_dir(args) -> Path:
    """A new folder under the runs root the desktop app uses too (core.runs.location)."""
    return new_run_dir(default_runs_root(), args.model, args.dataset)


class _ConsoleProgress:
    """A tqdm bar over all steps, with epoch lines above it."""

    def __init__(self, quiet: bool):
        from core.training.callbacks import Callback

        self.quiet = quiet
        self.bar = None
        parent = self

        class _Cb(Callback):
            def on_fit_start(self, run, start):
                parent.start(start)

            def on_batch_end(self, run, report):
                parent.batch(report)

            def on_epoch_end(self, run, m):
                parent.write(f"epoch {m.epoch:>3}: train loss {m.train_loss:.4f}  acc {m.train_acc:.3f} | "
                             f"val loss {m.val_loss:.4f}  acc {m.val_acc:.3f} | lr {m.lr:.2e} | "
                             f"{m.images_per_sec:,.0f} img/s | {m.duration_s:.1f}s")

            def on_fit_end(self, run, summary):
                parent.close()

            def on_stopped(self, run, summary):
                parent.close()

            def on_error(self, run, error):
                parent.close()

        self.callback = _Cb()

    def start(self, info) -> None:
        self.write(f"training on {info.device}: {info.train_size} train / {info.val_size} val images, "
                   f"{len(info.classes)} classes, epochs {info.start_epoch + 1}..{info.epochs}")
        if not self.quiet:
            from tqdm import tqdm

            done = info.start_epoch * info.batches_per_epoch
            # disable=None: no bar when stderr is not a terminal (CI logs, pipes).
            self.bar = tqdm(total=info.total_steps, initial=done, unit="step", dynamic_ncols=True,
                            file=sys.stderr, disable=None, mininterval=0.25)

    def batch(self, report) -> None:
        if self.bar is not None:
            self.bar.update(report.step - self.bar.n)
            loss = report.losses[-1][1] if report.losses else float("nan")
            self.bar.set_postfix_str(f"epoch {report.epoch}/{report.epochs} loss {loss:.4f} {report.images_per_sec:,.0f} img/s")

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_folder_health(folder: str) -> None:
    from core.data.health import scan_health

    report = scan_health(Path(folder))
    print(report.format_text(), flush=True)


def cmd_train(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.data import DatasetError, DataSpec
    from core.data.transforms import Augmentation
    from core.io.signals import SignalStop
    from core.models import ModelError
    from core.runs.lock import RunFolderError
    from core.training.live_snapshot import snapshots_on_signal
    from core.training.session import RunSettings
    from core.training.config import TrainConfig
    from core.training.errors import TrainingDiverged, TrainingError

    settings = RunSettings(
        data=DataSpec(name=args.dataset, image_size=args.image_size, val_fraction=args.val_fraction, seed=args.seed,
                      train_count=args.shapes_count, val_count=catalog.shapes_val_count(args.shapes_count),
                      augmentation=Augmentation.from_dict(parse_augment(args.augment))),
        model_name=args.model, model_options=_model_options(args),
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                          weight_decay=args.weight_decay, schedule=args.schedule, seed=args.seed, device=args.device,
                          num_workers=args.workers, backbone_lr_scale=args.backbone_lr_scale,
                          checkpoint_every_min=args.checkpoint_every_min, early_stop_patience=args.early_stop_patience,
                          early_stop_metric=args.early_stop_metric, heartbeat_s=args.heartbeat_s,
                          amp=args.amp, compile=args.compile,
                          dossier_topk=args.dossier, layer_health_every=args.layer_health_every,
                          probe_images=[str(Path(p).expanduser().resolve()) for p in args.probe]),
    )
    if args.settings:  # a whole RunSettings from the app (core.processes.job), instead of the options above
        try:
            settings = RunSettings.from_dict(json.loads(Path(args.settings).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"layerscope train: --settings {args.settings}: cannot use it ({exc})", file=sys.stderr)
            return EXIT_USAGE
    if args.resume and not args.out:
        run_dir = Path(args.resume).expanduser().resolve().parent
    else:
        run_dir = Path(args.out) if args.out else _default_run_dir(args)
    from core.training.strategy import launched_by_torchrun, strategy_for

    if args.nproc > 1 and not launched_by_torchrun():
        from core.processes.launch import launch_local

        print(f"run directory: {run_dir} ({args.nproc} processes)", flush=True)
        return launch_local(args.nproc, _train_argv_for_ranks(args, run_dir), run_dir)
    strategy = strategy_for(args.device)
    if not strategy.is_main:
        args.quiet = True  # rank 0 speaks for the run
    progress = _ConsoleProgress(args.quiet)
    sinks = []
    if args.tensorboard:
        from core.training.tensorboard import TensorBoardSink, TensorBoardUnavailable

        try:
            sinks.append(TensorBoardSink(layout.RunLayout(run_dir).tensorboard))
        except TensorBoardUnavailable as exc:
            print(f"layerscope train: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # SIGINT and SIGTERM alike: before the trainer exists they abort at once (main prints one line); then the
    # first one stops after the batch and saves last.pt, a second one aborts once any save in progress is done.
    # os.write, not print: a handler that prints while the main thread prints raises "reentrant call".
    stopping = f"\nstopping after this batch and saving {layout.LAST} (signal again to abort)...\n".encode()
    signals = SignalStop(on_first=lambda signum: os.write(2, stopping))
    try:
        with signals:
            try:
                if settings.data.is_folder and not args.resume:
                    _print_folder_health(settings.data.name)  # --settings: its folder, not the option
                trainer = _prepare(args, settings, run_dir, callbacks=[progress.callback] if strategy.is_main else [],
                                   record_sinks=sinks, strategy=strategy)
            except (DatasetError, CheckpointError, ModelError, TrainingError, RunFolderError) as exc:
                print(f"layerscope train: {exc}", file=sys.stderr)
                return EXIT_USAGE
            if strategy.is_main:
                print(f"run directory: {run_dir}", flush=True)
            for cb in trainer.callbacks:  # callbacks that say something (layer health, a refused write, a pause) print it
                if hasattr(cb, "on_warning"):
                    cb.on_warning = progress.write
            signals.attach(trainer.stop)
            try:
                with snapshots_on_signal(trainer):  # the app asks its own run for live weights with SIGUSR1
                    summary = trainer.fit()
            except TrainingDiverged as exc:
                print(f"layerscope train: diverged: {exc}", file=sys.stderr)
                return EXIT_DIVERGED
            except TrainingError as exc:
                print(f"layerscope train: {exc}", file=sys.stderr)
                return EXIT_USAGE
    finally:
        for sink in sinks:
            sink.close()
        strategy.teardown()
    if not strategy.is_main:
        return (signals.exit_code or EXIT_INTERRUPTED) if summary["stopped"] else EXIT_OK
    if summary["stopped"]:
        last = layout.RunLayout(run_dir).last_checkpoint
        print(f"stopped at epoch {summary['epoch']} step {summary['step']}; saved {last}. "
              f"Resume with: layerscope train --resume {last} --epochs {settings.train.epochs}")
        return signals.exit_code or EXIT_INTERRUPTED
    best = summary.get("best_val_acc")
    print(f"done: {summary['epoch']} epochs, best val acc {best:.3f}; checkpoints in {run_dir} "
          f"({layout.LAST}, {layout.BEST})"
          if best is not None and math.isfinite(best) else f"done; checkpoints in {run_dir}")
    return EXIT_OK


def _prepare(args, settings, run_dir: Path, **kwargs):
    """The Trainer: a fine-tune from a checkpoint's weights (fresh optimizer; the epochs, and with --settings
    the lr, from the settings), else a new or resumed run."""
    if args.finetune_from:
        from core.training.finetune import prepare_finetune

        return prepare_finetune(args.finetune_from, run_dir, epochs=settings.train.epochs,
                                lr=settings.train.lr if args.settings else None, overwrite=args.overwrite, **kwargs)
    from core.training.session import prepare_trainer

    return prepare_trainer(settings, run_dir, resume=args.resume, overwrite=args.overwrite, **kwargs)


def _train_argv_for_ranks(args, run_dir: Path) -> list[str]:
    """This command's own arguments for each process: without --nproc, with the run folder fixed."""
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    argv = argv[argv.index("train") + 1:] if "train" in argv else argv
    out, skip = [], False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word == "--nproc":
            skip = True
            continue
        if word.startswith("--nproc="):
            continue
        out.append(word)
    if not args.out:
        out += ["--out", str(run_dir)]
    return out


# ---- predict -------------------------------------------------------------------------------------------
def cmd_predict(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.checkpoints.predict import Predictor

    try:
        predictor = Predictor.from_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        print(f"layerscope predict: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for r in predictor.iter_classify_files(args.images, top_k=args.top_k):
        failed += r.error is not None
        print(_prediction_line(r, args.json), flush=True)  # streamed: what is written stays written
        if r.error:
            print(f"layerscope predict: could not classify {r.source}: {r.error}", file=sys.stderr, flush=True)
    return EXIT_PARTIAL if failed else EXIT_OK


def _prediction_line(r, as_json: bool) -> str:
    if as_json:
        return json.dumps(r.to_dict(), allow_nan=False)  # to_dict turns NaN into null: always valid JSON
    if r.error:
        return f"{r.source}: ERROR {r.error}"
    return f"{r.source}: " + ", ".join(
        f"{label} {prob:.1%}" if math.isfinite(prob) else f"{label} (not a number)" for label, prob in r.top)


# ---- inspect -------------------------------------------------------------------------------------------
def cmd_inspect(args) -> int:
    from core.checkpoints.checkpoint import CheckpointError
    from core.io.images import ImageLoadError
    from core.inspect.report import inspect_to_folder

    target = parse_value(args.target) if args.target is not None else None
    try:
        summary = inspect_to_folder(args.checkpoint, args.image, args.out, target=target, cam_layer=args.layer)
    except (CheckpointError, ImageLoadError, ValueError, KeyError) as exc:
        print(f"layerscope inspect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    top = summary.get("prediction") or []
    if top:
        first = top[0]
        prob = first["prob"]  # None when the model's output is NaN (a diverged run)
        shown = f"{prob:.1%}" if prob is not None else "(the model's output is not a number)"
        print(f"{args.image}: {first['label']} {shown}")
    print(f"wrote {len(summary.get('layers', []))} layer mosaics, filters, saliency and summary.json to {args.out}")
    return EXIT_OK


# ---- dataset -------------------------------------------------------------------------------------------
def cmd_dataset(args) -> int:
    from core.data.folder import DatasetError
    from core.data.health import scan_health

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"layerscope dataset: {folder}: not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = scan_health(folder)
    except DatasetError as exc:  # empty folder, one class, no images: a message, never a traceback
        print(f"layerscope dataset: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"layerscope dataset: {folder}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_text())
    return EXIT_OK


# ---- export-tensorboard --------------------------------------------------------------------------------
def cmd_export_tensorboard(args) -> int:
    from core.training.tensorboard import TensorBoardUnavailable, export_run

    failed = 0
    for run in args.runs:
        out = args.out
        if out and len(args.runs) > 1:
            out = str(Path(out) / Path(run).resolve().name)
        try:
            log_dir, scalars, garbage = export_run(run, out, _PercentLines(run))
        except TensorBoardUnavailable as exc:
            print(f"layerscope export-tensorboard: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:
            print(f"layerscope export-tensorboard: {exc}", file=sys.stderr)
            failed += 1
            continue
        note = f" ({garbage} unreadable lines skipped)" if garbage else ""
        print(f"{run}: {scalars} scalars -> {log_dir}{note}")
    return EXIT_PARTIAL if failed else EXIT_OK


class _PercentLines:
    """A core.progress Progress that prints "RUN: 30%" to stderr at each further tenth (a long export says it
    is alive, in a terminal or a log alike)."""

    def __init__(self, name: str):
        self.name, self.shown = name, 0

    def update(self, done: int, total: int, message: str = "") -> None:
        tenth = 10 * done // total if total > 0 else 0
        if tenth > self.shown:
            self.shown = tenth
            print(f"{self.name}: {10 * tenth}%", file=sys.stderr, flush=True)

    def cancelled(self) -> bool:
        return False

    def check_cancelled(self) -> None:
        pass


HANDLERS = {"train": cmd_train, "predict": cmd_predict, "inspect": cmd_inspect, "dataset": cmd_dataset,
            "export-tensorboard": cmd_export_tensorboard}


def _add_eval_handlers() -> None:
    from core.cli import dossier as cli_dossier
    from core.cli import evaluate as cli_eval

    HANDLERS.update(cli_eval.HANDLERS)
    HANDLERS.update(cli_dossier.HANDLERS)


_add_eval_handlers()


def _run_command(args) -> int:
    """Run one command; every failure is translated here, once: a message naming what to change, no traceback."""
    from core.io.signals import Interrupted, SignalStop

    # SIGTERM like Ctrl+C: one line and 128 + signal, even during the first imports. The handlers stay while the
    # outcome is reported, so a second Ctrl+C meanwhile is ignored (core.io.signals.abort), never raised anew.
    with SignalStop():
        try:
            return HANDLERS[args.command](args)
        except KeyboardInterrupt as exc:
            code = exc.exit_code if isinstance(exc, Interrupted) else EXIT_INTERRUPTED
            print(f"layerscope {args.command}: interrupted ({'SIGTERM' if code == 143 else 'Ctrl+C'})",
                  file=sys.stderr)
            return code
        except Exception as exc:
            from core.errors import describe_failure

            if os.environ.get(DEBUG_ENV):
                raise
            message = describe_failure(exc) or (f"unexpected error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 "
                                                 "for details)")
            print(f"layerscope {args.command}: {message}", file=sys.stderr)
            return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _run_command(args)


if __name__ == "__main__":
    sys.exit(main())
