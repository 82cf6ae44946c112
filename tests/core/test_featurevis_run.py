"""Feature visualization around a real run: a run asked for feature pictures keeps its first layer's pictures
before the first epoch and after each one; `layerscope visualize` and `layerscope concepts` on its checkpoint
write their files and say plainly what is wrong with a bad request."""
from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from core import catalog, exit_codes
from core.cli.main import main
from core.data.transforms import Preprocess
from core.featurevis import concept_images
from core.featurevis.during_training import FeaturePicturesEachEpoch
from core.featurevis.epochs import load_epoch, saved_epochs
from core.featurevis.store import SANITY_FILE
from core.runs.layout import RunLayout
from tests.core.dossierkit import train_learnable_run, write_learnable_folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("featurevis_run")
    folder = write_learnable_folder(tmp / "data", per_class=10)
    run_dir, trainer = train_learnable_run(tmp / "run", folder, epochs=2, feature_pictures=True)
    return run_dir, folder, trainer


def test_a_run_keeps_its_first_layer_pictures_before_and_after_each_epoch(run):
    run_dir, _, trainer = run
    [callback] = [cb for cb in trainer.callbacks if isinstance(cb, FeaturePicturesEachEpoch)]
    assert callback.error is None and callback.saved == [0, 1, 2]
    assert saved_epochs(run_dir) == [0, 1, 2]
    start, end = load_epoch(run_dir, 0), load_epoch(run_dir, 2)
    assert start.layer == end.layer == "features.0" and len(end.pictures) == 8
    assert start.weights_checksum != end.weights_checksum  # the weights of each moment, not the final ones
    # Four optimizer steps move the weights a little: every picture follows its own epoch's weights.
    assert all(p.weight_correlation > 0.9 for p in start.pictures + end.pictures)
    assert any(np.abs(a.image.astype(int) - b.image.astype(int)).max() > 2
               for a, b in zip(start.pictures, end.pictures))


def test_the_pictures_are_for_small_models_only():
    values = {"dataset": "shapes", "image_size": None, "model": "cnn", "model_options": {}}
    assert catalog.feature_pictures_unsuited(values) is None
    assert "224 px" in catalog.feature_pictures_unsuited({**values, "model": "resnet18",
                                                          "model_options": {"pretrained": True}})
    assert "128 px" in catalog.feature_pictures_unsuited({**values, "image_size": 128})
    warnings = []
    callback = FeaturePicturesEachEpoch("unused")
    callback.on_warning = warnings.append
    big = SimpleNamespace(data=SimpleNamespace(preprocess=Preprocess(224, 3, (0.5,) * 3, (0.25,) * 3)))
    callback.on_fit_start(big, SimpleNamespace(start_epoch=0))
    callback.on_epoch_end(big, SimpleNamespace(epoch=1))
    assert callback.saved == [] and len(warnings) == 1 and "224 px" in warnings[0]


def test_visualize_writes_pictures_and_sanity_numbers(run, tmp_path, capsys):
    run_dir, folder, _ = run
    best = str(RunLayout(run_dir).best_checkpoint)
    code = main(["visualize", "--checkpoint", best, "--layer", "features.0", "--channels", "0-3", "--steps", "8",
                 "--dataset", str(folder), "--real-images", "12", "--out", str(tmp_path)])
    assert code == exit_codes.OK
    numbers = json.loads((tmp_path / "features.0" / SANITY_FILE).read_text())
    assert [u["unit"] for u in numbers["units"]] == [0, 1, 2, 3]
    assert all(u["weight_correlation"] is not None and u["real_activation"] is not None for u in numbers["units"])
    with Image.open(tmp_path / "features.0" / "unit-0003.png") as picture:
        assert picture.size == (32, 32)
    assert "matches its weights: r = " in capsys.readouterr().out
    code = main(["visualize", "--checkpoint", best, "--class", "square", "--steps", "8", "--real-images", "0",
                 "--out", str(tmp_path)])
    assert code == exit_codes.OK and (tmp_path / "output" / "class-001-square.png").is_file()
    assert "classified as" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--layer", "features.9"], "no layer named 'features.9'; its layers: features.0"),
    (["--layer", "features.0", "--channels", "0-99"], "unit 99 does not exist; this layer has 8"),
    (["--class", "hexagon"], "no class named 'hexagon'"),
    ([], "name a --layer"),
])
def test_visualize_says_what_is_wrong(run, tmp_path, capsys, argv, message):
    run_dir, _, _ = run
    code = main(["visualize", "--checkpoint", str(RunLayout(run_dir).best_checkpoint), "--out", str(tmp_path),
                 "--steps", "2", *argv])
    assert code == exit_codes.USAGE and message in capsys.readouterr().err


def test_concepts_writes_the_table_for_drawn_and_folder_concepts(run, tmp_path, capsys):
    run_dir, folder, _ = run
    given = tmp_path / "my_stripes"
    given.mkdir()
    for i, picture in enumerate(concept_images.generate("stripes", 8, 32, seed=5)):
        Image.fromarray(picture).save(given / f"s{i}.png")
    out = tmp_path / "out"
    code = main(["concepts", "--checkpoint", str(RunLayout(run_dir).best_checkpoint), "--dataset", str(folder),
                 "--class", "circle", "--layer", "features.4", "--no-builtin", "--concept", "dots",
                 "--concept", str(given), "--random-runs", "2", "--images", "6", "--class-images", "8",
                 "--out", str(out)])
    assert code == exit_codes.OK
    table = json.loads((out / "tcav-circle-features.4.json").read_text())
    assert [c["concept"] for c in table["concepts"]] == ["dots", "my_stripes"]
    rows = list(csv.DictReader((out / "tcav-circle-features.4.csv").open()))
    assert {r["origin"] for r in rows} == {"generated", str(given)}
    assert (out / "tcav-circle-features.4.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "class 'circle' at features.4" in printed and "significant" in printed


def test_concepts_says_what_is_wrong(run, tmp_path, capsys):
    run_dir, folder, _ = run
    base = ["concepts", "--checkpoint", str(RunLayout(run_dir).best_checkpoint), "--dataset", str(folder),
            "--class", "circle", "--out", str(tmp_path), "--random-runs", "2"]
    assert main([*base, "--layer", "features.4", "--no-builtin", "--concept", str(tmp_path / "nope")]) == 2
    assert "neither a folder of images nor a built-in concept" in capsys.readouterr().err
    assert main([*base, "--layer", "classifier.3"]) == 2
    assert "no layer named 'classifier.3'" in capsys.readouterr().err
