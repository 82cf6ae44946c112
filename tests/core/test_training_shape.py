"""The fit loop's shape: small functions, no branch on the strategy in the loop, every hook dispatched, one
typed training state in the checkpoint format, guards and checkpoints asked for through the run's requests."""
import ast
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from core.data import DataSpec, build_data, make_loader
from core.models import ModelSpec, build_model
from core.training.callbacks import Callback, CallbackList, EpochMetrics, Validation
from core.training.config import TrainConfig
from core.training.errors import DivergedError
from core.training.guards import DivergenceGuard, guards
from core.training.state import TrainingState
from core.training.strategy import Strategy
from core.training.trainer import Trainer

TRAINING = Path(__file__).resolve().parents[2] / "core" / "training"
MAX_FUNCTION_LINES = 60


def test_no_function_in_core_training_is_longer_than_60_lines():
    too_long = []
    for path in sorted(TRAINING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_long, too_long


def test_the_trainer_never_asks_whether_the_run_is_distributed():
    tree = ast.parse((TRAINING / "trainer.py").read_text(encoding="utf-8"))
    asked = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "distributed"]
    assert asked == [], "the strategy answers instead"


def test_no_module_of_core_training_is_part_of_an_import_cycle():
    grimp = pytest.importorskip("grimp")  # import-linter's graph (a test dependency)
    graph = grimp.build_graph("core")
    in_cycle = sorted({importer for importer in graph.modules if importer.startswith("core.training")
                       for imported in graph.find_modules_directly_imported_by(importer)
                       if graph.chain_exists(importer=imported, imported=importer)})
    assert in_cycle == []


def test_every_hook_of_a_callback_reaches_every_callback():
    hooks = [name for name, value in vars(Callback).items() if name.startswith("on_") and callable(value)]
    assert len(hooks) >= 13
    calls = []

    class Spy(Callback):
        pass

    for name in hooks:
        setattr(Spy, name, lambda self, *args, name=name: calls.append(name))
    both = CallbackList([Spy(), Spy()])
    for name in hooks:
        getattr(both, name)(*([None] * (getattr(Callback, name).__code__.co_argcount - 1)))
    assert calls == [name for name in hooks for _ in range(2)]


def _small_trainer(callbacks=(), epochs=1, **config):
    data = build_data(DataSpec(train_count=40, val_count=10, image_size=16, seed=3))
    spec = ModelSpec("mlp", data.num_classes, 3, 16, {"hidden": [8]})
    torch.manual_seed(0)
    train = TrainConfig(epochs=epochs, batch_size=8, report_interval_s=0.0, device="cpu", **config)
    return Trainer(build_model(spec), data, train, spec, [*guards(train), *callbacks])


def test_a_checkpoint_asked_for_mid_epoch_is_saved_after_that_report_with_its_position():
    due = []

    class AskAtStep2(Callback):
        def on_batch_end(self, run, report):
            if report.step == 2:
                run.request_checkpoint()

        def on_checkpoint_due(self, run, at):
            due.append((at, run.training_state()["position"]))

    _small_trainer([AskAtStep2()]).fit()
    (at, position), = due
    assert (at.epoch, at.step, at.batch) == (1, 2, 2)
    assert position["batch"] == 2 and position["step"] == 2 and position["seen"] == 16
    assert 0 < position["loss_sum"] and 0 <= position["correct"] <= 16


def test_the_training_state_is_one_mapping_in_the_checkpoint_format():
    class StopAtStep3(Callback):
        def on_batch_end(self, run, report):
            if report.step == 3:
                run.stop()

    trainer = _small_trainer([StopAtStep3()], epochs=2)
    trainer.fit()
    mapping = trainer.training_state()
    assert set(mapping) == {"epoch", "step", "history", "position", "rng", "optimizer", "scheduler", "grad_scaler",
                            "config", "data_spec"}
    assert set(mapping["position"]) == {"epoch", "batch", "step", "loss_sum", "correct", "seen", "rng"}
    assert set(mapping["rng"]) == {"torch", "python", "numpy_seed_hint"}
    restored = TrainingState.from_mapping(mapping)
    assert (restored.epoch, restored.step, restored.batch, restored.seen) == (0, 3, 3, 24)
    assert restored.loss_sum == mapping["position"]["loss_sum"] and torch.equal(restored.rng, mapping["rng"]["torch"])
    stale = {**mapping, "step": 4}  # a position that is not where the run is: the epoch is replayed
    assert TrainingState.from_mapping(stale).batch == 0


def test_a_stop_ends_one_fit_and_fit_again_goes_on_where_it_stopped():
    class StopAtStep2(Callback):
        def __init__(self):
            self.done = False

        def on_batch_end(self, run, report):
            if report.step == 2 and not self.done:
                self.done = True
                run.stop()

    trainer = _small_trainer([StopAtStep2()])
    assert trainer.fit()["stopped"] and trainer.step == 2
    summary = trainer.fit()
    assert not summary["stopped"] and trainer.step == 5 and trainer.epoch == 1


def test_the_divergence_guard_ends_the_fit_on_a_diverged_validation_loss():
    guard = DivergenceGuard()

    class Run:
        lr = 0.5

    with pytest.raises(DivergedError, match="validation loss became nan after epoch 2"):
        guard.on_validation_end(Run(), Validation(epoch=2, loss=math.nan, accuracy=0.1, size=10))
    guard.on_validation_end(Run(), Validation(epoch=2, loss=math.nan, accuracy=math.nan, size=0))  # no val set


def test_early_stopping_is_installed_only_when_asked_for():
    assert [type(g).__name__ for g in guards(TrainConfig())] == ["DivergenceGuard"]
    assert [type(g).__name__ for g in guards(TrainConfig(early_stop_patience=2))] == ["DivergenceGuard",
                                                                                       "EarlyStopping"]


def test_make_loader_shuffles_in_the_trainers_order_of_the_epoch():
    dataset = TensorDataset(torch.arange(50), torch.arange(50))
    ours = [x.tolist() for x, _ in make_loader(dataset, 8, shuffle=True, seed=3, epoch=2)]
    trainers = [x.tolist() for x, _ in Strategy(torch.device("cpu")).train_loader(
        dataset, 8, seed=3, epoch=2, skip_batches=0, num_workers=0, pin_memory=False)]
    assert ours == trainers and sorted(sum(ours, [])) == list(range(50))
    assert ours != [x.tolist() for x, _ in make_loader(dataset, 8, shuffle=True, seed=3, epoch=3)]


def test_epoch_history_round_trips_through_the_mapping():
    metrics = EpochMetrics(epoch=1, step=5, train_loss=1.5, train_acc=0.4, val_loss=1.4, val_acc=0.5, lr=0.01,
                           images_per_sec=100.0, duration_s=2.0)
    state = TrainingState(epoch=1, step=5, history=[metrics])
    assert TrainingState.from_mapping(state.to_mapping(seed=0)).history == [metrics]
