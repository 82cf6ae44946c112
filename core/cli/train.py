"""`layerscope train`: train a model headless, with a progress bar.

Its training options are made from core.catalog.TRAIN_OPTIONS, the one schema TrainConfig and the app's Train
form are made from too, so the app offers every one of them (tests/gui/test_settings_schema.py checks it); the
data and model options are the Data and Model tabs' values. A --settings file (what the app writes for a run in
its own process) goes through the same catalogue limits. Torch is imported inside the handler only, so
`layerscope train --help` needs none.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from core import catalog, exit_codes
from core.cli.args import add_setting, augment_usage, parse_augment, parse_options
from core.cli.failure import CommandError
from core.runs import layout
from core.runs.location import RUNS_DIR_ENV, default_runs_root, new_run_dir, new_run_name

# The options that have no field in the app's form, and why (the form test skips exactly these).
CLI_ONLY = {
    "out": "the app makes a new run folder under the runs root for each run",
    "resume": "the app resumes a run from the Runs tab (Resume)",
    "overwrite": "the app never starts a run in a folder that holds one",
    "finetune_from": "the app's Evaluate tab starts a fine-tune (Fine-tune with corrections)",
    "quiet": "the console's progress bar",
    "settings": "how the app hands its form's values to a run in its own process",
}
# The options that set the model's options: the app's Model tab edits those (RunSettingsModel's "model_options").
MODEL_OPTION_DESTS = ("hidden", "pretrained", "weights", "freeze_backbone", "option")
GROUP_TITLES = {"training": "training", "insight": "insight (what the run keeps for looking inside it)",
                "advanced": "advanced"}


# ---- the options --------------------------------------------------------------------------------------------
def register(sub) -> None:
    t = sub.add_parser("train", help="train a model headless, with a progress bar", epilog=_epilog())
    add_training_options(t)
    _add_run_options(t.add_argument_group("the run folder"))
    t.set_defaults(handler=run)


def add_training_options(t) -> None:
    """The data, model and training options (what `run_settings` reads): `train` and the commands that
    train the same settings (`data-curve`) share them."""
    _add_data_options(t.add_argument_group("data (the app's Data tab)"))
    model = t.add_argument_group("model (the app's Model tab)")
    _add_model_options(model)
    groups = {"model": model, **{place: t.add_argument_group(title) for place, title in GROUP_TITLES.items()}}
    groups["inspect"] = groups["insight"]  # probe images: pinned in the app's Inspect tab
    for option in catalog.TRAIN_OPTIONS:
        if option.cli_flag:
            add_setting(groups[option.place], option.cli_flag, option.setting, bare=option.bare)


def _epilog() -> str:
    return (f"Without --out, runs go to a new folder named like {new_run_name('cnn', 'shapes')} under the runs root "
            f"(${RUNS_DIR_ENV}, else {default_runs_root()}), the same place the desktop app writes its runs. "
            "--batch-size is the global batch: with --nproc N (or torchrun) each process takes 1/N of it, so a "
            "run makes the same steps at any number of processes. --nproc N starts N local processes with torch's "
            "launcher; on a cluster run `torchrun --nproc_per_node G --nnodes M --rdzv_backend c10d "
            "--rdzv_endpoint HOST:PORT -m core.cli train --out SHARED/RUN ...` on every machine.")


def _add_data_options(group) -> None:
    group.add_argument("--dataset", default=catalog.DEFAULT_DATASET,
                       help=f"{', '.join(catalog.DATASET_NAMES)} (built in or downloaded once), or a folder with one "
                            f"sub-folder per class (default {catalog.DEFAULT_DATASET})")
    add_setting(group, "--shapes-count", catalog.SHAPES_TRAIN_COUNT)
    add_setting(group, "--image-size", catalog.IMAGE_SIZE)
    add_setting(group, "--val-fraction", catalog.VAL_FRACTION)
    on_values = ", ".join(f"{a.name}={a.on_value}" for a in catalog.AUGMENTATIONS.values()
                          if not isinstance(a.on_value, bool))
    group.add_argument("--augment", dest="augmentation", default="", metavar="LIST",
                       help=f"comma list: {augment_usage()} (bare words: {on_values})")


def _add_model_options(group) -> None:
    group.add_argument("--model", default=catalog.DEFAULT_MODEL,
                       help=f"{', '.join(catalog.MODEL_NAMES)} (default {catalog.DEFAULT_MODEL})")
    group.add_argument("--hidden", default=None, help="mlp hidden layer widths, e.g. "
                       + ",".join(str(w) for w in catalog.MLP_HIDDEN_DEFAULT) + " (the default)")
    group.add_argument("--pretrained", action="store_true",
                       help="torchvision models: start from pretrained weights (downloads once)")
    group.add_argument("--weights", default=None, help="torchvision models: a local weights file to start from")
    add_setting(group, "--freeze-backbone", catalog.FREEZE_BACKBONE)
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="any other model option (repeatable)")


def _add_run_options(group) -> None:
    group.add_argument("--out", default=None,
                       help=f"run directory ({layout.CONFIG}, {layout.METRICS}, {layout.LAST}, {layout.BEST}); "
                            "default: a new folder under the runs root (see below)")
    group.add_argument("--resume", default=None, metavar="CHECKPOINT",
                       help=f"continue a run from its {layout.LAST}; --epochs is the new total")
    group.add_argument("--finetune-from", default=None, metavar="CHECKPOINT",
                       help="start from this checkpoint's weights with a fresh optimizer, on its data (the fine-tune "
                            "the app's Evaluate tab starts): --epochs epochs at the checkpoint run's lr / 10, or the "
                            "epochs and lr of --settings")
    group.add_argument("--overwrite", action="store_true",
                       help="start a new run in an --out folder that holds one (the old files move to "
                            f"{layout.PREVIOUS_PREFIX}<time>/)")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_file_option(group)


def add_settings_file_option(group) -> None:
    group.add_argument("--settings", default=None, metavar="JSON",
                       help="a run's whole settings as JSON (what the app writes; replaces the data, model and "
                            "training options, and is held to the same limits)")


# ---- the run's settings -------------------------------------------------------------------------------------
def run_settings(args):
    """The run's core.training.session.RunSettings: the --settings file's, else the options'."""
    from core.training.session import RunSettings

    if args.settings:
        from core.cli.settings_file import SettingsFileError, load_settings_file

        try:
            return RunSettings.from_dict(load_settings_file(args.settings))
        except SettingsFileError as exc:
            raise CommandError(str(exc)) from None
        except (TypeError, ValueError, KeyError) as exc:
            raise CommandError(f"--settings {args.settings}: cannot use it ({exc})") from None
    return RunSettings(data=_data_spec(args), model_name=args.model, model_options=_model_options(args),
                       train=train_config(args))


def train_config(args):
    """TrainConfig from the options: one option per TrainConfig field the user sets (core.catalog.TRAIN_OPTIONS)."""
    from core.training.config import TrainConfig

    values = {o.key: getattr(args, o.key) for o in catalog.TRAIN_OPTIONS if o.config and o.cli_flag}
    values["probe_images"] = [str(Path(p).expanduser().resolve()) for p in values["probe_images"]]
    return TrainConfig(**values)


def _data_spec(args):
    from core.data import DataSpec
    from core.data.transforms import Augmentation

    return DataSpec(name=args.dataset, image_size=args.image_size, val_fraction=args.val_fraction, seed=args.seed,
                    train_count=args.train_count, val_count=catalog.shapes_val_count(args.train_count),
                    augmentation=Augmentation.from_dict(parse_augment(args.augmentation)))


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


def _run_dir(args, settings) -> Path:
    if args.resume and not args.out:
        return Path(args.resume).expanduser().resolve().parent
    if args.out:
        return Path(args.out)
    # A new folder under the runs root the desktop app uses too (core.runs.location).
    return new_run_dir(default_runs_root(), settings.model_name, settings.data.name)


# ---- the handler --------------------------------------------------------------------------------------------
def run(args) -> int:
    from core.training.strategy import launched_by_torchrun

    settings = run_settings(args)
    run_dir = _run_dir(args, settings)
    if args.nproc > 1 and not launched_by_torchrun():
        return _launch(args, run_dir)
    return _train_here(args, settings, run_dir)


def _launch(args, run_dir: Path) -> int:
    from core.processes.launch import launch_local

    print(f"run directory: {run_dir} ({args.nproc} processes)", flush=True)
    return launch_local(args.nproc, _argv_for_ranks(args, run_dir), run_dir)


def _argv_for_ranks(args, run_dir: Path) -> list[str]:
    """This command's own arguments for each process: without --nproc, with the run folder fixed."""
    argv = list(getattr(args, "argv", None) or sys.argv[1:])
    argv = argv[argv.index("train") + 1:] if "train" in argv else argv
    out, skip = [], False
    for word in argv:
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


def _train_here(args, settings, run_dir: Path) -> int:
    """Train in this process (one of a multi-process run's processes too)."""
    from core.cli.train_progress import ConsoleProgress
    from core.io.signals import SignalStop

    strategy = _strategy(settings)
    progress = ConsoleProgress(args.quiet or not strategy.is_main)  # rank 0 speaks for the run
    # SIGINT and SIGTERM alike: before the trainer exists they abort at once (main prints one line); then the
    # first one stops after the batch and saves last.pt, a second one aborts once any save in progress is done.
    signals = SignalStop(on_first=_say_stopping)
    try:
        with signals:
            trainer = _prepare(args, settings, run_dir, strategy, progress)
            signals.attach(trainer.stop)
            summary = _fit(trainer)
    finally:
        strategy.teardown()
    stopped = signals.exit_code or exit_codes.INTERRUPTED
    if not strategy.is_main:
        return stopped if summary["stopped"] else exit_codes.OK
    _print_summary(summary, settings, run_dir)
    return stopped if summary["stopped"] else exit_codes.OK


STOPPING = f"\nstopping after this batch and saving {layout.LAST} (signal again to abort)...\n".encode()


def _say_stopping(signum: int) -> None:
    # os.write, not print: a handler that prints while the main thread prints raises "reentrant call".
    os.write(2, STOPPING)


def _strategy(settings):
    from core.training.errors import TrainingError
    from core.training.strategy import strategy_for

    try:
        return strategy_for(settings.train.device)
    except TrainingError as exc:  # a device that is not here
        raise CommandError(str(exc)) from None


def _prepare(args, settings, run_dir: Path, strategy, progress):
    """The Trainer, ready to fit; CommandError (usage) when the settings or inputs cannot be used."""
    from core.checkpoints.checkpoint import CheckpointError
    from core.data import DatasetError
    from core.models import ModelError
    from core.runs.lock import RunFolderError
    from core.training.errors import TrainingError
    from core.training.tensorboard import TensorBoardUnavailable

    try:
        if settings.data.is_folder and not args.resume and not args.finetune_from and strategy.is_main:
            _print_folder_health(settings.data.name)  # --settings: its folder, not the option's default
        trainer = _trainer(args, settings, run_dir, callbacks=[progress.callback] if strategy.is_main else [],
                           strategy=strategy)
    except (DatasetError, CheckpointError, ModelError, TrainingError, RunFolderError, TensorBoardUnavailable) as exc:
        raise CommandError(str(exc)) from None
    if strategy.is_main:
        print(f"run directory: {run_dir}", flush=True)
    for cb in trainer.callbacks:  # what callbacks say (layer health, a refused write, a pause and who asked) is printed
        if hasattr(cb, "on_warning"):
            cb.on_warning = progress.write
    return trainer


def _trainer(args, settings, run_dir: Path, **kwargs):
    """A fine-tune from a checkpoint's weights (fresh optimizer; the epochs, and with --settings the lr, from the
    settings), else a new or resumed run."""
    if args.finetune_from:
        from core.training.finetune import prepare_finetune

        return prepare_finetune(args.finetune_from, run_dir, epochs=settings.train.epochs,
                                lr=settings.train.lr if args.settings else None, overwrite=args.overwrite, **kwargs)
    from core.training.session import prepare_trainer

    return prepare_trainer(settings, run_dir, resume=args.resume, overwrite=args.overwrite, **kwargs)


def _print_folder_health(folder: str) -> None:
    from core.data.health import scan_health

    print(scan_health(Path(folder)).format_text(), flush=True)


def _fit(trainer) -> dict:
    from core.training.errors import TrainingDiverged, TrainingError
    from core.training.live_snapshot import snapshots_on_signal

    try:
        with snapshots_on_signal(trainer):  # the app asks its own run for live weights with SIGUSR1
            return trainer.fit()
    except TrainingDiverged as exc:
        raise CommandError(f"diverged: {exc}", exit_codes.DIVERGED) from None
    except TrainingError as exc:
        raise CommandError(str(exc)) from None


def _print_summary(summary: dict, settings, run_dir: Path) -> None:
    if summary["stopped"]:
        last = layout.RunLayout(run_dir).last_checkpoint
        print(f"stopped at epoch {summary['epoch']} step {summary['step']}; saved {last}. "
              f"Resume with: layerscope train --resume {last} --epochs {settings.train.epochs}")
        return
    best = summary.get("best_val_acc")
    print(f"done: {summary['epoch']} epochs, best val acc {best:.3f}; checkpoints in {run_dir} "
          f"({layout.LAST}, {layout.BEST})" if best is not None and math.isfinite(best) else f"done; checkpoints in {run_dir}")
