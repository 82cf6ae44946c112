"""Confounds found before any training: a class that its file format or its size alone tells apart is a named
problem with its fix, in the health report and `layerscope dataset`; a balanced set is not; the report breaks
formats, modes, sizes, aspect ratios, file sizes and colour down per class."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.data.confounds import balanced_accuracy, find_confounds, fit_stump
from core.data.health import scan_health
from tests.support.photos import photo

CLASSES = ("cats", "dogs", "people")
PER_CLASS = 16


def _dataset(root: Path, save) -> Path:
    """CLASSES x PER_CLASS photo-like images from one generator: only `save(cls, index, image, path)` differs."""
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            save(name, i, photo(1000 * c + i, (120, 90)), root / name / f"{i:02d}")
    return root


def _varied_size(image, index: int):
    rng = np.random.default_rng(index)
    return image.resize((int(rng.integers(100, 220)), int(rng.integers(80, 180))))


def _flagged(report) -> set[tuple[str, str]]:
    return {(c.cls, c.property) for c in report.confounds}


def test_a_class_that_differs_only_by_format_is_flagged(tmp_path):
    def save(cls, i, image, stem):
        image.save(f"{stem}.png") if cls == "people" else image.save(f"{stem}.jpg", quality=90)

    report = scan_health(_dataset(tmp_path / "d", save))
    assert ("people", "format") in _flagged(report)
    assert not {c for c, _ in _flagged(report)} - {"people"}  # cats and dogs share the format: not told apart
    warning = next(w for w in report.warnings if "'people'" in w and "file format" in w)
    assert "re-encode" in warning and "100 % of its images are PNG, against 0 % for the others" in warning
    people = next(p for p in report.profiles if p.name == "people")
    assert people.formats == {"PNG": PER_CLASS} and people.images == PER_CLASS


def test_a_class_that_differs_only_by_size_is_flagged(tmp_path):
    """The issue's photos: every 'people' image 96x160, every cat or dog a JPEG of varied size."""
    def save(cls, i, image, stem):
        image = image.resize((96, 160)) if cls == "people" else _varied_size(image, 100 * len(cls) + i)
        image.save(f"{stem}.jpg", quality=90)

    report = scan_health(_dataset(tmp_path / "d", save))
    assert {prop for cls, prop in _flagged(report) if cls == "people"} >= {"width", "height", "aspect"}
    assert any("resize and crop every image to one size and shape" in w for w in report.warnings)
    people = next(p for p in report.profiles if p.name == "people")
    assert people.width == (96, 96, 96) and people.height == (160, 160, 160)
    text = report.format_text()
    assert "Per class" in text and "96x160" in text and "confound: class 'people'" in text


def test_a_balanced_set_is_not_flagged(tmp_path):
    """Formats and sizes mixed alike in every class: nothing tells a class apart but its content."""
    def save(cls, i, image, stem):
        image = _varied_size(image, 7 * i + len(cls))
        image.save(f"{stem}.png") if i % 2 else image.save(f"{stem}.jpg", quality=90)

    report = scan_health(_dataset(tmp_path / "d", save))
    assert report.confounds == []
    assert not any("confound" in w for w in report.warnings)
    assert all(p.formats == {"JPEG": PER_CLASS // 2, "PNG": PER_CLASS // 2} for p in report.profiles)


def test_layerscope_dataset_names_the_confound(tmp_path, capsys):
    def save(cls, i, image, stem):
        image.save(f"{stem}.png") if cls == "people" else image.save(f"{stem}.jpg", quality=90)

    root = _dataset(tmp_path / "d", save)
    assert main(["dataset", str(root)]) == 0
    out = capsys.readouterr().out
    assert "confound: class 'people' can be told from the others by its file format alone" in out
    assert main(["dataset", "--json", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(c["cls"] == "people" and c["property"] == "format" for c in report["confounds"])
    assert {p["name"] for p in report["profiles"]} == set(CLASSES)


def test_the_stump_finds_the_best_threshold_either_way():
    x = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    high = np.array([False, False, False, True, True, True])
    threshold, above = fit_stump(x, high)
    assert 3.0 < threshold < 10.0 and above
    threshold, above = fit_stump(x, ~high)
    assert 3.0 < threshold < 10.0 and not above
    assert balanced_accuracy(high, x > 5) == 1.0
    assert fit_stump(np.ones(4), np.array([True, False, True, False]))[0] == 1.0  # one value: no split, chance


def test_too_few_images_give_no_verdict():
    from core.data.confounds import ImageTraits

    traits = [ImageTraits("PNG" if i < 3 else "JPEG", "RGB", 10, 10, 1.0) for i in range(6)]
    assert find_confounds(traits, [0, 0, 0, 1, 1, 1], ["a", "b"]) == []


@pytest.mark.parametrize("where", ["beside", "in_train"])
def test_extra_folders_and_loose_images_are_named(tmp_path, where):
    root = tmp_path / "d"
    for split in ("train", "val"):
        for c in ("ants", "bees"):
            (root / split / c).mkdir(parents=True)
            for i in range(2):
                photo(i, (40, 30)).save(root / split / c / f"{i}.jpg")
    if where == "beside":
        (root / "loose").mkdir()
        for i in range(3):
            photo(50 + i, (40, 30)).save(root / "loose" / f"{i}.jpg")
    else:
        photo(60, (40, 30)).save(root / "train" / "stray.jpg")
    report = scan_health(root)
    if where == "beside":
        assert any(entry.startswith(str(root / "loose")) for entry in report.ignored)
        assert any("loose/ is beside train/, val/" in w and "3 images are not used" in w for w in report.warnings)
    else:
        assert any(entry.startswith(str(root / "train" / "stray.jpg")) for entry in report.ignored)
        assert any("1 image file lies directly in train/" in w for w in report.warnings)
    assert "Not used" in report.format_text()


def test_two_classes_name_the_odd_one_once(tmp_path):
    """With two classes, one against the other is the same test both ways: one finding, named after the class
    whose files are all alike (every bee a 96x160 PNG, the ants JPEGs of many sizes)."""
    for c, name in enumerate(("ants", "bees")):
        (tmp_path / "d" / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            image = photo(100 * c + i, (120, 90))
            if name == "bees":
                image.resize((96, 160)).save(tmp_path / "d" / name / f"{i}.png")
            else:
                _varied_size(image, i).save(tmp_path / "d" / name / f"{i}.jpg", quality=90)
    report = scan_health(tmp_path / "d")
    assert {c.cls for c in report.confounds} == {"bees"}
    (sentence,) = [w for w in report.warnings if w.startswith("confound")]
    assert sentence.startswith("confound: class 'bees' can be told from 'ants' by its file format alone")


def test_train_names_an_extra_folder(tmp_path, capsys):
    """`layerscope train` prints the health report before it trains: the loose/ folder is named there too."""
    root = tmp_path / "d"
    for split in ("train", "val"):
        for c in ("ants", "bees"):
            (root / split / c).mkdir(parents=True)
            for i in range(3):
                photo(10 * len(c) + i, (40, 30)).save(root / split / c / f"{i}.jpg")
    (root / "loose").mkdir()
    photo(99, (40, 30)).save(root / "loose" / "stray.jpg")
    assert main(["train", "--dataset", str(root), "--epochs", "1", "--image-size", "16", "--batch-size", "4",
                 "--quiet", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "loose/ is beside train/, val/, not inside them: its 1 image is not used" in out
