"""The evaluation's familiarity column: "unknown" without a feature bank (and a note saying how to compute
one), each image's score once the bank is there (the same score the inspector and `predict` give), written to
per_image.csv and read back."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from core.cli.main import main


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from core.data import DataSpec, build_data
    from tests.core.familiaritykit import save_model_checkpoint, tiny_model

    root = tmp_path_factory.mktemp("familiarity_eval")
    data = build_data(DataSpec(name="shapes", train_count=60, val_count=25, image_size=24, seed=4))
    options = {"channels": 4, "blocks": 2}
    path = save_model_checkpoint(tiny_model("cnn", options=options), data.classes, data.preprocess,
                                 root / "run" / "best.pt", options=options)
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": data.spec.to_dict()}
    save_checkpoint(ckpt, path)
    return path


def _rows(folder) -> list[dict]:
    with open(folder / "per_image.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_evaluation_carries_each_images_familiarity_once_the_bank_is_made(checkpoint, tmp_path, capsys):
    from core.evaluate.result import load_evaluation
    from core.evaluate.run import evaluate_checkpoint
    from core.familiarity.features import extract_features
    from core.familiarity.jobs import bank_for_checkpoint, bank_views, build_bank
    from core.familiarity.scoring import familiarity_many

    before = tmp_path / "before"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--out", str(before)]) == 0
    out = capsys.readouterr().out
    assert "familiarity unknown" in out and "layerscope familiarity --checkpoint" in out
    assert {row["familiarity"] for row in _rows(before)} == {"unknown"}
    summary = json.loads((before / "summary.json").read_text())
    assert summary["familiarity_threshold"] is None and summary["unfamiliar"] is None
    assert load_evaluation(before).familiarity is None

    build_bank(checkpoint)
    after = tmp_path / "after"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--out", str(after)]) == 0
    assert "images unfamiliar" in capsys.readouterr().out
    rows = _rows(after)
    scores = np.array([float(row["familiarity"]) for row in rows])
    assert len(scores) == 25 and ((0 <= scores) & (scores <= 1)).all()
    summary = json.loads((after / "summary.json").read_text())
    threshold = summary["familiarity_threshold"]
    assert 0 < threshold < 1 and summary["unfamiliar"] == int((scores < threshold).sum())

    # The same scores the inspector and predict give these images, from the same forward as the prediction.
    from core.checkpoints.checkpoint import load_checkpoint
    from core.familiarity.sources import checkpoint_sets

    ckpt = load_checkpoint(checkpoint)
    bank = bank_for_checkpoint(checkpoint)
    val = checkpoint_sets(ckpt, splits=("val",))[0]
    features = extract_features(ckpt.build_model(), [val], views=bank_views(bank))
    expected = np.array([f.score for f in familiarity_many(bank, features)])
    assert np.allclose(scores, expected, atol=1e-4)
    plain = evaluate_checkpoint(checkpoint)
    loaded = load_evaluation(after)
    assert np.allclose(loaded.probs, plain.probs, atol=1e-5)
    assert np.allclose(loaded.familiarity, scores) and loaded.familiarity_threshold == pytest.approx(threshold)
    assert (loaded.familiar == (scores >= threshold)).all()


def test_a_damaged_familiarity_column_is_refused_with_the_file_named(checkpoint, tmp_path):
    from core.evaluate.result import load_evaluation
    from core.evaluate.source import EvaluationError
    from core.familiarity.evaluation import evaluate_with_familiarity
    from core.evaluate.result import save_evaluation

    result = evaluate_with_familiarity(checkpoint)  # the bank may or may not be there: either way it is written
    result.familiarity, result.familiarity_threshold = np.full(len(result.files), 0.5), 0.2
    save_evaluation(result, tmp_path)
    text = (tmp_path / "per_image.csv").read_text().replace("0.5000", "7.5", 1)
    (tmp_path / "per_image.csv").write_text(text)
    with pytest.raises(EvaluationError, match="per_image.csv: row 2: familiarity"):
        load_evaluation(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["familiarity_threshold"] = 3
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(EvaluationError, match="familiarity_threshold"):
        load_evaluation(tmp_path)
