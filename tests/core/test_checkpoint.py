"""Checkpoints describe themselves, round-trip exactly, resume exactly, and refuse bad files clearly."""
import io
import math
import pickle

import pytest
import torch

from core.training.callbacks import Callback
from core.checkpoints.checkpoint import (CheckpointError, check_resumable, checkpoint_from_trainer, load_checkpoint,
                             save_checkpoint)
from core.data import DataSpec
from core.checkpoints.predict import Predictor
from core.runs.history import fold
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

SETTINGS = dict(data=DataSpec(train_count=300, val_count=100, seed=3), model_name="cnn",
                model_options={"channels": 8, "blocks": 3})


def settings(epochs, schedule="cosine"):
    return RunSettings(train=TrainConfig(epochs=epochs, seed=5, schedule=schedule), **SETTINGS)


def epoch_numbers(trainer):
    return [(m.epoch, m.step, m.train_loss, m.train_acc, m.val_loss, m.val_acc, m.lr) for m in trainer.history]


class StopAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, run, metrics):
        if metrics.epoch == self.epoch:
            run.stop()


def test_exact_resume_matches_an_uninterrupted_run(tmp_path):
    """2 epochs, then resume to 4 == 4 straight (a schedule that does not depend on the total)."""
    straight = prepare_trainer(settings(4, "step"), tmp_path / "straight")
    straight.fit()

    first = prepare_trainer(settings(2, "step"), tmp_path / "split")
    first.fit()
    resumed = prepare_trainer(settings(4, "step"), tmp_path / "split", resume=tmp_path / "split" / "last.pt")
    assert resumed.epoch == 2
    resumed.fit()
    assert epoch_numbers(resumed) == epoch_numbers(straight)
    assert [r["epoch"] for r in fold(tmp_path / "split").epochs] == [1, 2, 3, 4]


def test_exact_resume_of_a_stopped_cosine_run(tmp_path):
    """A 4-epoch cosine run stopped after epoch 2 and resumed gives the uninterrupted numbers."""
    straight = prepare_trainer(settings(4), tmp_path / "straight")
    straight.fit()
    first = prepare_trainer(settings(4), tmp_path / "split", callbacks=[StopAfterEpoch(2)])
    assert first.fit()["stopped"]
    resumed = prepare_trainer(settings(4), tmp_path / "split", resume=tmp_path / "split" / "last.pt")
    resumed.fit()
    assert epoch_numbers(resumed) == epoch_numbers(straight)


def test_extending_a_cosine_run_replans_the_curve(tmp_path):
    first = prepare_trainer(settings(2), tmp_path / "run")
    first.fit()
    longer = prepare_trainer(settings(4), tmp_path / "run", resume=tmp_path / "run" / "last.pt")
    assert longer.lr == pytest.approx(1e-3 * 0.5)  # half-way down a 4-epoch cosine, not at its end
    longer.fit()
    assert [round(m.lr, 8) for m in longer.history[-2:]] == [round(1e-3 * (1 + math.cos(math.pi * 3 / 4)) / 2, 8), 0.0]


def test_round_trip_rebuilds_the_model_and_gives_the_same_outputs(tmp_path):
    trainer = prepare_trainer(settings(1), None)
    trainer.fit()
    path = save_checkpoint(checkpoint_from_trainer(trainer), tmp_path / "model.pt")
    ckpt = load_checkpoint(path)
    assert ckpt.classes == trainer.data.classes and ckpt.preprocess == trainer.data.preprocess
    assert ckpt.model_spec == trainer.model_spec and ckpt.epoch == 1
    x = torch.stack([trainer.data.val[i][0] for i in range(8)])
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(x)
        got = ckpt.build_model()(x)
    assert torch.equal(expected, got)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_predictor_uses_the_checkpoint_alone(tmp_path):
    trainer = prepare_trainer(settings(1), tmp_path / "run")
    trainer.fit()
    predictor = Predictor.from_checkpoint(tmp_path / "run" / "best.pt")
    from PIL import Image

    from core.data.shapes import make_shapes

    images, _ = make_shapes(1, 64, seed=99)
    top = predictor.classify(Image.fromarray(images[0]), top_k=3)
    assert len(top) == 3 and abs(sum(p for _, p in predictor.classify(Image.fromarray(images[0]), 5)) - 1) < 1e-4
    assert all(label in trainer.data.classes for label, _ in top)


class Evil:
    def __reduce__(self):
        return (print, ("this code must never run",))


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"this is not a checkpoint at all", "not a readable"),
    (pickle.dumps(Evil()), "not a readable"),
])
def test_bad_checkpoint_files_give_clear_errors(tmp_path, content, words):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=words) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_bare_state_dict_and_truncated_file_are_refused(tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save({"weight": torch.zeros(2)}, bare)
    with pytest.raises(CheckpointError, match="bare state dict"):
        load_checkpoint(bare)
    trainer = prepare_trainer(settings(1), None)
    good = save_checkpoint(checkpoint_from_trainer(trainer), tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_checkpoint(cut)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


def test_code_in_a_checkpoint_never_runs(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"format": "layerscope-checkpoint", "x": Evil()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out


class DrawsPythonRandom(Callback):
    """Something in the run (a user's callback, a custom transform) that uses Python's `random`."""

    def on_fit_start(self, run, start):
        import random

        random.random()


def test_resume_restores_the_python_random_state(tmp_path):
    """Python's `random` continues where the stopped run left it (not from the seed again)."""
    import random

    prepare_trainer(settings(1), tmp_path / "run", callbacks=[DrawsPythonRandom()]).fit()
    saved = load_checkpoint(tmp_path / "run" / "last.pt").training_state["rng"]["python"]
    random.seed(5)  # what prepare_trainer seeds before loading: the saved state must differ from it
    assert list(random.getstate()[1]) != list(saved)
    random.seed(12345)
    prepare_trainer(settings(2), tmp_path / "run", resume=tmp_path / "run" / "last.pt")
    assert list(random.getstate()[1]) == list(saved)


def _small_trainer(epochs=1):
    small = RunSettings(data=DataSpec(train_count=64, val_count=16, seed=3, image_size=16), model_name="mlp",
                        model_options={"hidden": [8]}, train=TrainConfig(epochs=epochs, seed=5, batch_size=8))
    return prepare_trainer(small, None)


def test_an_fp16_runs_grad_scaler_state_is_saved_and_restored_on_resume(tmp_path):
    """fp16's GradScaler (here its CPU form, which runs the same scale / unscale / update path) keeps its learned
    scale and growth counter across a checkpoint, instead of starting again from 65536."""
    trainer = _small_trainer()
    trainer.speed.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4, growth_interval=3)
    trainer.fit()  # 8 steps, none overflowing: the scale doubles twice and the counter stands at 2
    saved = trainer.speed.scaler.state_dict()
    assert saved["scale"] == 2.0 ** 6 and saved["_growth_tracker"] == 2
    path = save_checkpoint(checkpoint_from_trainer(trainer), tmp_path / "last.pt")

    checkpoint = load_checkpoint(path)
    check_resumable(checkpoint, path)
    assert checkpoint.training_state["grad_scaler"] == saved
    resumed = _small_trainer(epochs=2)
    resumed.speed.scaler = torch.amp.GradScaler("cpu")
    resumed.load_training_state(checkpoint.training_state)
    assert resumed.speed.scaler.state_dict() == saved
    resumed.fit()  # 8 more steps go on from that counter: 2 + 8 = 10 -> three more doublings, 1 left over
    assert resumed.speed.scaler.state_dict()["scale"] == 2.0 ** 9
    assert resumed.speed.scaler.state_dict()["_growth_tracker"] == 1


def test_a_run_without_a_grad_scaler_saves_none_and_a_damaged_scale_is_refused(tmp_path):
    trainer = _small_trainer()
    trainer.fit()
    checkpoint = checkpoint_from_trainer(trainer)
    assert checkpoint.training_state["grad_scaler"] is None  # CPU / bf16 runs have none
    checkpoint.training_state["grad_scaler"] = {"scale": float("inf"), "growth_factor": 2.0, "backoff_factor": 0.5,
                                                "growth_interval": 2000, "_growth_tracker": 0}
    path = save_checkpoint(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="grad_scaler.scale"):
        check_resumable(load_checkpoint(path), path)
