"""Fine-tune from a checkpoint on corrected data, then compare the two evaluations."""
import json

import pytest

from core.checkpoints.checkpoint import load_checkpoint
from core.cli.main import main
from core.data.corrections import load_corrections
from core.data import DataSpec
from core.evaluate import EvaluationError, evaluate_checkpoint, save_evaluation
from core.evaluate.compare import compare_evaluations
from core.training.finetune import prepare_finetune
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig
from tests.core.evalkit import write_shapes_folder

CLASSES = ["circle", "square", "star"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("ft")
    folder = write_shapes_folder(base / "data", per_class=10, size=24, classes=CLASSES)
    settings = RunSettings(data=DataSpec(name=str(folder), seed=0), model_name="cnn",
                           model_options={"channels": 4, "blocks": 1},
                           train=TrainConfig(epochs=1, batch_size=8, lr=4e-3, evaluate_at_end=True))
    prepare_trainer(settings, base / "run").fit()
    return base


def test_finetune_starts_from_the_weights_with_a_fresh_optimizer_and_lower_lr(run):
    folder, before = run / "data", run / "run" / "best.pt"
    victim = sorted((folder / "circle").iterdir())[0]
    corrections = load_corrections(folder)
    corrections.exclude(victim)
    corrections.save()
    trainer = prepare_finetune(before, run / "ft", epochs=1)
    ckpt = load_checkpoint(before)
    assert trainer.config.lr == pytest.approx(4e-4) and trainer.step == 0 and not trainer.optimizer.state
    assert all((trainer.model.state_dict()[k] == v).all() for k, v in ckpt.model_state.items())
    assert len(trainer.data.train) + len(trainer.data.val) == 29  # the excluded image is gone
    trainer.fit()
    assert (run / "ft" / "eval" / "summary.json").exists()
    assert json.loads((run / "ft" / "config.json").read_text())["finetuned_from"] == str(before.resolve())


def test_compare_two_evaluations(run, tmp_path, capsys):
    a = evaluate_checkpoint(run / "run" / "best.pt", run / "data", "all")
    b = evaluate_checkpoint(run / "run" / "best.pt", run / "data", "all")
    b.probs = b.probs[:, [1, 2, 0]]  # a different model: every prediction moves one class on
    comparison = compare_evaluations(a, b)
    right_a = set(f for f, p, y in zip(a.files, a.predicted, a.labels) if p == y)
    right_b = set(f for f, p, y in zip(b.files, b.predicted, b.labels) if p == y)
    assert set(comparison.became_right) == right_b - right_a and set(comparison.became_wrong) == right_a - right_b
    assert comparison.top1_delta == pytest.approx(len(right_b) / len(b.files) - len(right_a) / len(a.files))
    assert comparison.confusion_delta.sum() == 0
    save_evaluation(a, tmp_path / "a")
    save_evaluation(b, tmp_path / "b")
    assert main(["compare-eval", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "became right" in capsys.readouterr().out
    b.classes = ["circle", "square", "dog"]
    with pytest.raises(EvaluationError, match="dog"):
        compare_evaluations(a, b)


def test_train_finetune_from_takes_the_checkpoints_weights_and_the_settings_epochs_and_lr(run, tmp_path):
    """`layerscope train --settings S --finetune-from CKPT`: how the app runs a fine-tune in its own process."""
    from core.runs import records

    settings = RunSettings.from_dict(json.loads((run / "run" / "config.json").read_text()))
    settings.train.epochs, settings.train.lr = 2, 5e-4
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings.to_dict()))
    tuned = tmp_path / "tuned"
    assert main(["train", "--settings", str(settings_file), "--finetune-from", str(run / "run" / "best.pt"),
                 "--out", str(tuned), "--quiet", "--device", "cpu"]) == 0
    config = json.loads((tuned / "config.json").read_text())
    assert config["finetuned_from"] == str((run / "run" / "best.pt").resolve())
    assert config["train"]["lr"] == 5e-4 and config["train"]["epochs"] == 2
    epochs = [records.decode(line) for line in (tuned / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in epochs if r.kind == "epoch"] == [1, 2] and not [r for r in epochs if r.kind == "resume"]
