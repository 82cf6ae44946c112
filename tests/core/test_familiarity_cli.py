"""The familiarity commands end to end: `familiarity` stores the bank beside the checkpoint, `predict --json`
then carries the familiarity object on every line (null before), plain `predict` says UNFAMILIAR, and `embed`
writes the map."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

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

    root = tmp_path_factory.mktemp("familiarity_cli")
    data = build_data(DataSpec(name="shapes", train_count=60, val_count=25, image_size=24, seed=4))
    options = {"channels": 4, "blocks": 2}
    path = save_model_checkpoint(tiny_model("cnn", options=options), data.classes, data.preprocess,
                                 root / "run" / "best.pt", options=options)
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": data.spec.to_dict()}
    save_checkpoint(ckpt, path)
    images = []
    for i, seed in enumerate((1, 2)):
        image = root / f"image{i}.png"
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(image)
        images.append(str(image))
    return path, data.classes, images


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_json_carries_the_familiarity_object_once_the_bank_is_made(checkpoint, capsys, tmp_path):
    path, classes, images = checkpoint
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    assert main(["predict", "--checkpoint", str(path), "--json", images[0]]) == 0
    assert _json_lines(capsys)[0]["familiarity"] is None  # no bank yet: familiarity unknown

    assert main(["familiarity", "--checkpoint", str(path)]) == 0
    assert "best.familiarity.npz" in capsys.readouterr().out and path.with_name("best.familiarity.npz").is_file()

    assert main(["predict", "--checkpoint", str(path), "--json", "--top-k", "2", images[0], str(bad), images[1]]) == 1
    lines = _json_lines(capsys)
    assert [line["path"] for line in lines] == [images[0], str(bad), images[1]]
    assert lines[1]["familiarity"] is None and "error" in lines[1]
    for line in (lines[0], lines[2]):
        familiarity = line["familiarity"]
        assert list(familiarity) == ["score", "familiar", "threshold", "nearest"]
        assert 0 <= familiarity["score"] <= 1 and 0 < familiarity["threshold"] <= 1
        assert isinstance(familiarity["familiar"], bool)
        assert familiarity["familiar"] == (familiarity["score"] >= familiarity["threshold"])
        assert len(familiarity["nearest"]) == 5
        for near in familiarity["nearest"]:
            assert list(near) == ["path", "label", "distance"]
            assert near["path"].startswith("shapes:train/") and near["label"] in classes
            assert near["distance"] >= 0
        distances = [near["distance"] for near in familiarity["nearest"]]
        assert distances == sorted(distances)


def test_plain_predict_adds_a_word_for_an_unfamiliar_image():
    from core.checkpoints.predict import Prediction
    from core.cli.predict import _prediction_line
    from core.familiarity.predicting import UNFAMILIAR_WORD, ScoredPrediction
    from core.familiarity.scoring import Familiarity

    top = [("circle", 0.9)]
    unfamiliar = _prediction_line(ScoredPrediction(Prediction("a.png", top), Familiarity(0.02, False, 0.6)), False)
    familiar = _prediction_line(ScoredPrediction(Prediction("a.png", top), Familiarity(0.7, True, 0.6)), False)
    unknown = _prediction_line(ScoredPrediction(Prediction("a.png", top), None), False)
    assert UNFAMILIAR_WORD in unfamiliar and "0.02" in unfamiliar
    assert UNFAMILIAR_WORD not in familiar and familiar == unknown == "a.png: circle 90.0%"


def test_embed_writes_the_map_and_bad_input_is_refused_by_name(checkpoint, capsys, tmp_path):
    path, _classes, _images = checkpoint
    assert main(["embed", "--checkpoint", str(path), "--out", str(tmp_path / "map")]) == 0
    assert (tmp_path / "map" / "map.csv").is_file() and (tmp_path / "map" / "map.png").is_file()
    capsys.readouterr()
    assert main(["familiarity", "--checkpoint", str(tmp_path / "missing.pt")]) != 0
    err = capsys.readouterr().err
    assert "missing.pt" in err and "Traceback" not in err


def test_a_bank_made_for_other_weights_leaves_familiarity_unknown_and_says_why(checkpoint, capsys, tmp_path):
    import shutil

    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from tests.core.familiaritykit import tiny_model

    path, _classes, images = checkpoint
    assert main(["familiarity", "--checkpoint", str(path)]) == 0
    other = tmp_path / "run" / "best.pt"
    other.parent.mkdir()
    ckpt = load_checkpoint(path)
    ckpt.model_state = tiny_model("cnn", options={"channels": 4, "blocks": 2}, seed=5).state_dict()
    save_checkpoint(ckpt, other)
    shutil.copy(path.with_name("best.familiarity.npz"), other.with_name("best.familiarity.npz"))
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(other), "--json", images[0]]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["familiarity"] is None and "familiarity unknown" in err and "Traceback" not in err
