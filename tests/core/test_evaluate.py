"""Evaluation: the numbers agree with the trainer and with each other, files round-trip, bad input is refused clearly."""
import csv
import json
import shutil

import numpy as np
import pytest

from core.cli.main import main
from core.evaluate import EvalResult, EvaluationError, evaluate_checkpoint, load_evaluation, metrics
from core.runs.history import fold
from tests.core.evalkit import train_tiny_run, write_shapes_folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("run"), epochs=1, image_size=32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_shapes_folder(tmp_path_factory.mktemp("shapes_folder"), per_class=6, size=32)


def test_run_evaluates_its_validation_set_at_the_end(run):
    summary = json.loads((run / "eval" / "summary.json").read_text())
    best = fold(run).best_epoch()["val_acc"]
    assert summary["images"] == 80
    assert summary["top1"] == pytest.approx(best, abs=1e-6)  # same weights, same images, same answer
    assert summary["top5"] == 1.0  # five classes: the true one is always in the top five
    with open(run / "eval" / "per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 80
    assert np.mean([int(r["correct"]) for r in rows]) == pytest.approx(summary["top1"])
    matrix = np.loadtxt(run / "eval" / "confusion.csv", delimiter=",", skiprows=1, usecols=range(1, 6))
    assert matrix.sum() == 80 and np.trace(matrix) == sum(int(r["correct"]) for r in rows)


def test_metrics_on_a_known_case():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    matrix = metrics.confusion_matrix(labels, probs.argmax(1), 2)
    assert matrix.tolist() == [[1, 1], [0, 2]]
    result = EvalResult(["a", "b"], ["w", "x", "y", "z"], labels, probs)
    assert result.cell(1, 1).tolist() == [2, 3] and result.cell(0, 1).tolist() == [1]  # most confident first
    scores = metrics.per_class_scores(matrix)
    assert scores["precision"].tolist() == [1.0, pytest.approx(2 / 3)]
    assert scores["recall"].tolist() == [0.5, 1.0]
    loss, margin = metrics.per_image_loss_and_margin(probs, labels)
    assert margin[1] == pytest.approx(-0.2) and loss[0] == pytest.approx(-np.log(0.9))
    bins = metrics.reliability_bins(probs, labels, bins=10)
    assert sum(b["count"] for b in bins) == 4
    # confidences 0.9, 0.6, 0.8, 0.7 with correctness 1, 0, 1, 1: ECE = mean |acc - conf| per bin
    assert metrics.expected_calibration_error(bins) == pytest.approx((0.1 + 0.6 + 0.2 + 0.3) / 4)


def test_evaluate_a_folder_and_read_it_back(run, folder, tmp_path):
    shutil.copytree(folder, tmp_path / "data")
    (tmp_path / "data" / "circle" / "broken.png").write_bytes(b"not a png")
    result = evaluate_checkpoint(run / "best.pt", tmp_path / "data", "all", out=tmp_path / "ev")
    assert len(result.files) == 30
    assert [f for f, _ in result.unreadable] == [str(tmp_path / "data" / "circle" / "broken.png")]
    back = load_evaluation(tmp_path / "ev")
    assert back.files == result.files and (back.predicted == result.predicted).all()
    assert json.loads((tmp_path / "ev" / "summary.json").read_text())["unreadable"][0]["file"].endswith("broken.png")


def test_other_classes_and_empty_split_are_refused_by_name(run, folder, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    shutil.move(data / "star", data / "dog")
    with pytest.raises(EvaluationError, match="dog"):
        evaluate_checkpoint(run / "best.pt", data)
    shutil.rmtree(data)
    for split in ("train", "val"):
        for name in ("circle", "square"):
            (data / split / name).mkdir(parents=True)
    shutil.copy(next((folder / "circle").iterdir()), data / "train" / "circle" / "a.png")
    shutil.copy(next((folder / "square").iterdir()), data / "train" / "square" / "b.png")
    with pytest.raises(EvaluationError, match="test split has no images"):
        evaluate_checkpoint(run / "best.pt", data, "test")


def test_cli_evaluate(run, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "ev")]) == 0
    assert "80 images" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "ev").iterdir()} >= {"per_image.csv", "confusion.png", "reliability.png"}
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_in_memory_items_are_saved_as_pngs_and_resolve_to_them(run, tmp_path):
    from PIL import Image

    from core.evaluate.images import MemoryImages, resolve_image

    loaded = load_evaluation(run / "eval")  # the shapes run's end-of-training evaluation
    first = loaded.files[0]
    assert first == "shapes:val/00000"
    path = resolve_image(first, loaded.images)
    assert path.endswith("shapes_val_00000.png") and (run / "eval" / "images").is_dir()
    pixels = np.asarray(Image.open(path))
    assert pixels.std() > 0  # a drawn shape, not a blank
    # an unsaved evaluation renders on demand from the arrays it holds
    fresh = evaluate_checkpoint(run / "best.pt", split="val")
    assert np.array_equal(np.asarray(Image.open(resolve_image(first, fresh.images))), pixels)
    assert resolve_image("shapes:val/99999", fresh.images) == "shapes:val/99999"  # unknown: left as it is
    assert resolve_image("shapes:val/00001", MemoryImages(folder=tmp_path)) == "shapes:val/00001"
