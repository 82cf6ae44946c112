"""A shared evaluation folder is crafted: its files are read safely, and the images its per_image.csv names
are opened only inside the evaluation folder or its dataset."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from core.evaluate.images import resolve_image
from core.evaluate.result import EvalResult, load_evaluation, save_evaluation
from core.evaluate.source import EvaluationError
from tests.core.evalkit import write_shapes_folder
from tests.core.hostile_files import fifo, small_png, sparse_file
from tests.support.decoys import Decoy

pytestmark = pytest.mark.timeout(120)
CLASSES = ["circle", "square", "star"]


@pytest.fixture
def world(tmp_path):
    data = write_shapes_folder(tmp_path / "data", per_class=2, size=16, classes=CLASSES)
    decoy = Decoy(tmp_path / "home")
    small_png(decoy.root / "private.png")
    decoy.remember()  # the PNG is part of the decoy
    return data, decoy


def saved_evaluation(folder, files: list[str], source: str):
    labels = np.arange(len(files)) % len(CLASSES)
    probs = np.full((len(files), len(CLASSES)), 0.1)
    probs[np.arange(len(files)), labels] = 0.8
    save_evaluation(EvalResult(CLASSES, files, labels, probs, source), folder)
    return folder


def test_files_outside_the_evaluation_and_its_dataset_are_not_opened(world, tmp_path):
    data, decoy = world
    inside_file = str(sorted((data / "circle").iterdir())[0])
    files = [inside_file, str(decoy.root / "private.png"), "../home/private.png", "/dev/zero",
             f"{data}/../home/private.png"]
    folder = saved_evaluation(tmp_path / "eval", files, f"{data} (val)")
    result = load_evaluation(folder)
    assert resolve_image(files[0], result.images) == inside_file
    assert [resolve_image(f, result.images) for f in files[1:]] == [None] * 4
    decoy.assert_untouched()


def test_a_crafted_source_does_not_make_any_folder_the_dataset(world, tmp_path):
    data, decoy = world
    folder = saved_evaluation(tmp_path / "eval", [str(decoy.root / "private.png")] * 3, f"{decoy.root} (val)")
    result = load_evaluation(folder)  # /home has no class folders circle/ square/ star/
    assert resolve_image(str(decoy.root / "private.png"), result.images) is None


def test_an_evaluation_made_in_this_process_is_not_confined(world, tmp_path):
    data, decoy = world
    result = EvalResult(CLASSES, [str(decoy.root / "private.png")], np.array([0]), np.array([[0.8, 0.1, 0.1]]))
    assert resolve_image(result.files[0], result.images) == str(decoy.root / "private.png")


def test_saved_pictures_of_in_memory_items_open_from_the_evaluation_folder(tmp_path, world):
    data, decoy = world
    folder = saved_evaluation(tmp_path / "eval", ["shapes:val/00000"], "shapes (val)")
    (folder / "images").mkdir()
    small_png(folder / "images" / "shapes_val_00000.png")
    result = load_evaluation(folder)
    assert resolve_image("shapes:val/00000", result.images) == str(folder / "images" / "shapes_val_00000.png")
    os.unlink(folder / "images" / "shapes_val_00000.png")
    os.rmdir(folder / "images")
    os.symlink(decoy.root, folder / "images")  # a linked images/ folder leads out
    small_png(decoy.root / "shapes_val_00000.png")
    assert resolve_image("shapes:val/00000", result.images) is None


def write_rows(folder, rows: list[list[str]]) -> None:
    with open(folder / "per_image.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "true", "predicted", "correct", "confidence", "loss", "margin", "top_k"])
        writer.writerows(rows)


@pytest.mark.parametrize("breaks, words", [
    (lambda f: (os.unlink(f / "summary.json"), fifo(f / "summary.json")), "named pipe"),
    (lambda f: (os.unlink(f / "per_image.csv"), fifo(f / "per_image.csv")), "named pipe"),
    (lambda f: (os.unlink(f / "per_image.csv"), sparse_file(f / "per_image.csv", 2 * 2**30)), "limit"),
    (lambda f: (f / "summary.json").write_text('{"classes": ' + "[" * 10_000 + "]" * 10_000 + "}"), "nested"),
    (lambda f: (f / "summary.json").write_text('{"classes": [1, 2]}'), "classes[0]"),
    (lambda f: (f / "summary.json").write_text('{"classes": ["a"], "source": 1' + "0" * 500 + "}"), "number"),
    (lambda f: write_rows(f, [["a.png", "circle", "circle", "1", "1", "0", "0", "circle:" + "9" * 200_000]]), "line 2"),
    (lambda f: write_rows(f, [["a.png", "circle", "circle", "1", "1", "0", "0", "circle:nan"]]), "between 0 and 1"),
    (lambda f: write_rows(f, [["a.png", "circle", "circle", "1", "1", "0", "0", "circle:1e999"]]), "between 0 and 1"),
    (lambda f: write_rows(f, [["a.png", "dog", "circle", "1", "1", "0", "0", "circle:0.5"]]), "row 2"),
    (lambda f: (f / "per_image.csv").write_bytes(b"\xff\xfe\x00"), "UTF-8"),
])
def test_a_hostile_evaluation_folder_is_one_named_error(tmp_path, breaks, words):
    folder = saved_evaluation(tmp_path / "eval", ["a.png", "b.png", "c.png"], "x (val)")
    breaks(folder)
    with pytest.raises(EvaluationError) as info:
        load_evaluation(folder)
    assert words in str(info.value) and str(folder) in str(info.value)


def test_a_good_folder_still_loads(tmp_path):
    folder = saved_evaluation(tmp_path / "eval", ["a.png", "b.png", "c.png"], "x (val)")
    result = load_evaluation(folder)
    assert result.classes == CLASSES and len(result.files) == 3
    assert json.loads((folder / "summary.json").read_text())["classes"] == CLASSES
