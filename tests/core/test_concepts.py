"""Concept tests (TCAV on Captum): a model trained where one class always carries stripes relies on stripes,
significantly; a class without stripes does not. Plus the drawn concepts, folder concepts through the safe
loader, the report files, the significance test itself and concept maps."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from core.featurevis import concept_images, concept_sets, tcav
from core.featurevis.concept_map import concept_map, load_cavs
from core.featurevis.concept_report import write_report
from core.featurevis.concepts import concept_tests
from tests.core import featurevis_kit as kit

RUNS, PICTURES = 16, 50


@pytest.fixture(scope="module")
def zoo():
    """'zebra' and 'horse' are the same random shapes, every zebra striped; 'apple' is plain red circles."""
    images, labels = kit.draw_zoo(60, 32, seed=0)
    pre = kit.preprocess_for(images)
    data = kit.dataset(images, labels, pre)
    model, _ = kit.train("cnn", data, 3, 32, epochs=4, options={"blocks": 2, "channels": 8})
    assert kit.accuracy(model, data) > 0.9
    return model, pre, data


@pytest.fixture(scope="module")
def stripes_test(zoo, tmp_path_factory):
    model, pre, data = zoo
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))  # Captum must write nothing into the working directory
    try:
        sets = [concept_sets.concept_set("stripes", PICTURES, pre)]
        results = concept_tests(model, pre, list(kit.ZOO), data, ["zebra", "apple"], "features.6", sets,
                                random_runs=RUNS, concept_count=PICTURES, class_count=40)
        left_behind = os.listdir(".")
    finally:
        os.chdir(here)
    return results, left_behind


def test_the_striped_class_relies_on_stripes_and_a_class_without_stripes_does_not(stripes_test):
    (zebra, apple), _ = stripes_test
    stripes = zebra.score("stripes")
    assert stripes.significant and stripes.p_value < zebra.threshold
    assert stripes.mean > np.mean(stripes.random_scores) + 0.2
    assert stripes.verdict.startswith("significant: 'zebra' relies on 'stripes'")
    plain = apple.score("stripes")
    assert not plain.significant and plain.p_value >= apple.threshold
    assert plain.verdict.startswith("not significant")
    assert len(stripes.scores) == len(stripes.random_scores) == RUNS


def test_captum_writes_nothing_outside_its_temporary_folder(stripes_test):
    _, left_behind = stripes_test
    assert left_behind == []


def test_the_table_is_written_as_json_csv_a_chart_and_vectors(stripes_test, zoo, tmp_path):
    (zebra, _), _ = stripes_test
    files = write_report(zebra, tmp_path)
    assert sorted(p.suffix for p in files) == [".csv", ".json", ".npz", ".png"]
    table = json.loads(next(p for p in files if p.suffix == ".json").read_text())
    assert table["class"] == "zebra" and table["concepts"][0]["significant"] is True
    rows = list(csv.DictReader(next(p for p in files if p.suffix == ".csv").open()))
    assert rows[0]["concept"] == "stripes" and float(rows[0]["p_value"]) < 0.05
    with Image.open(next(p for p in files if p.suffix == ".png")) as chart:
        assert chart.size[0] > 300
    model, pre, data = zoo
    cav = load_cavs(next(p for p in files if p.suffix == ".npz"))["stripes"]
    striped = data[int(np.flatnonzero(np.asarray(data.labels) == 0)[0])][0]
    heat = concept_map(model, "features.6", striped, cav)
    assert heat.shape == (32, 32) and np.isfinite(heat).all()
    with pytest.raises(ValueError, match="another layer"):
        concept_map(model, "features.2", striped, cav)


def test_drawn_concepts_have_the_models_size_and_their_pattern():
    stripes = concept_images.generate("stripes-0-w4", 3, 24, seed=1)
    assert stripes.shape == (3, 24, 24, 3) and stripes.dtype == np.uint8
    assert (stripes == stripes[:, :1]).all()  # vertical stripes: every row the same
    assert not (stripes == stripes[:, :, :1]).all()
    assert np.array_equal(concept_images.generate("dots", 2, 16, seed=3), concept_images.generate("dots", 2, 16, seed=3))
    solid = concept_images.generate("solid-red", 1, 16)[0].astype(int)
    assert solid[..., 0].mean() > 180 and solid[..., 1].mean() < 80
    for name in concept_images.DEFAULT_CONCEPTS:
        assert concept_images.generate(name, 2, 20).shape == (2, 20, 20, 3)
    with pytest.raises(concept_images.ConceptNameError, match="built-in concepts"):
        concept_images.generate("zigzag", 1, 16)


def test_a_greyscale_model_gets_greyscale_concept_pictures():
    pre = kit.preprocess_for(kit.draw_images(2, 16)[0], channels=1)
    drawn = concept_sets.concept_set("checkerboard", 6, pre)
    assert drawn.sample(0).shape == (6, 1, 16, 16)
    assert not torch.equal(drawn.sample(0), drawn.sample(1))  # fresh pictures every run


def test_a_folder_concept_is_read_safely_and_its_bad_files_are_named(tmp_path):
    pre = kit.preprocess_for(kit.draw_images(2, 16)[0])
    for i, picture in enumerate(concept_images.generate("stripes", 8, 40)):
        Image.fromarray(picture).save(tmp_path / f"s{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    os.mkfifo(tmp_path / "pipe.png")
    concept = concept_sets.concept_set(tmp_path, 5, pre)
    assert concept.origin == str(tmp_path) and concept.sample(0).shape == (5, 3, 16, 16)
    assert sorted(os.path.basename(f) for f, _ in concept.skipped) == ["broken.png", "pipe.png"]
    with pytest.raises(concept_sets.ConceptError, match="neither a folder"):
        concept_sets.concept_set(str(tmp_path / "missing"), 5, pre)


def test_the_significance_test():
    rng = np.random.default_rng(0)
    reference = list(rng.choice([0.0, 1.0], 16) * 0.9 + 0.05)
    p, significant = tcav.significance(list(rng.uniform(0.85, 1.0, 16)), reference, 0.05)
    assert significant and p < 0.05
    p, significant = tcav.significance(list(rng.permutation(reference)), reference, 0.05)
    assert not significant and p > 0.5
    assert tcav.significance([0.5], reference, 0.05) == (None, False)
