"""Health scan of a real photo folder with planted problems; training runs on the good files only."""
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from core.data import DataSpec, build_data
from core.errors import Cancelled
from core.progress import Reporter
from core.data.folder import DatasetError, scan_folder_splits
from core.data.health import scan_health
from core.models import ModelSpec, build_model
from core.training.config import TrainConfig
from core.training.trainer import Trainer


@pytest.fixture
def damaged_folder(shared_data, tmp_path) -> dict:
    """hymenoptera copied (10 per class and split, to stay small) plus a corrupt, an empty, a text-as-jpg
    file, a duplicate across train and val, and a notes.txt."""
    src = shared_data / "hymenoptera"
    root = tmp_path / "hym"
    for split in ("train", "val"):
        for cls in ("ants", "bees"):
            (root / split / cls).mkdir(parents=True)
            for f in sorted((src / split / cls).glob("*.jpg"))[:10]:
                shutil.copy(f, root / split / cls / f.name)
    ants = sorted((root / "train" / "ants").glob("*.jpg"))
    corrupt = root / "train" / "ants" / "corrupt.jpg"
    data = ants[0].read_bytes()
    corrupt.write_bytes(data[: len(data) // 3])  # a JPEG cut off mid-stream: the header is still fine
    empty = root / "train" / "bees" / "empty.jpg"
    empty.write_bytes(b"")
    text = root / "val" / "bees" / "text.jpg"
    text.write_text("this is not a picture\n")
    duplicate = root / "val" / "ants" / "copy_of_train.jpg"
    shutil.copy(ants[1], duplicate)
    (root / "train" / "ants" / "notes.txt").write_text("labelling notes")
    return {"root": root, "corrupt": corrupt, "empty": empty, "text": text, "duplicate": duplicate,
            "original": ants[1]}


def test_health_report_names_each_problem(damaged_folder):
    calls = []
    report = scan_health(damaged_folder["root"], progress=Reporter(lambda d, t, _text: calls.append((d, t))))
    problems = {Path(p.path).name: p for p in report.problems}
    assert set(problems) == {"corrupt.jpg", "empty.jpg", "text.jpg"}
    assert problems["empty.jpg"].kind == "empty"
    assert problems["corrupt.jpg"].kind == "corrupt" and "truncated" in problems["corrupt.jpg"].reason
    assert problems["text.jpg"].kind == "not_image"
    assert report.total_files == 44 and report.good_files == 41
    assert report.counts == {"ants": {"train": 10, "val": 11}, "bees": {"train": 10, "val": 10}}
    [dup] = report.duplicates
    assert {Path(p).name for p in dup.paths} == {damaged_folder["original"].name, "copy_of_train.jpg"}
    assert dup.cross_split and sorted(dup.splits) == ["train", "val"]
    assert [Path(p).name for p in report.ignored] == ["notes.txt"]
    assert report.modes == {"RGB": 41} and report.formats == {"JPEG": 41}
    assert report.min_size is not None and report.max_size[0] * report.max_size[1] >= report.min_size[0] * report.min_size[1]
    assert report.imbalance_ratio == 1.0 and report.small_classes == []
    assert any("more than one split" in w for w in report.warnings)
    assert calls[-1] == (44, 44)
    text = report.format_text()
    for name in ("corrupt.jpg", "empty.jpg", "text.jpg", "copy_of_train.jpg", "notes.txt"):
        assert name in text
    assert json.loads(json.dumps(report.to_dict()))["duplicates"][0]["cross_split"] is True


def test_training_uses_only_the_good_files(damaged_folder):
    bundle = build_data(DataSpec(name=str(damaged_folder["root"]), image_size=32))
    assert {Path(p).name for p, _ in bundle.excluded} == {"corrupt.jpg", "empty.jpg", "text.jpg"}
    assert len(bundle.train) == 20 and len(bundle.val) == 21
    spec = ModelSpec("cnn", 2, 3, 32, {"blocks": 2, "channels": 8})
    trainer = Trainer(build_model(spec), bundle, TrainConfig(epochs=1, batch_size=8, device="cpu"), spec)
    summary = trainer.fit()
    assert summary["epoch"] == 1 and not summary["stopped"]


def test_uncached_folder_also_leaves_bad_files_out(damaged_folder):
    bundle = build_data(DataSpec(name=str(damaged_folder["root"]), image_size=32, cache_mb=0))
    from core.data.datasets import FileDataset

    assert isinstance(bundle.train, FileDataset)  # cache_mb=0: read from disk every epoch
    assert len(bundle.excluded) == 3 and len(bundle.train) == 20
    for i in range(len(bundle.train)):  # every remaining file decodes
        x, _ = bundle.train[i]
        assert tuple(x.shape) == (3, 32, 32)


def test_scan_can_be_cancelled(damaged_folder):
    with pytest.raises(Cancelled):
        scan_health(damaged_folder["root"], Reporter(cancel=lambda: True))


def test_small_and_imbalanced_classes_are_warned(tmp_path):
    for cls, n in (("many", 20), ("few", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("RGB", (40 + i, 30), (i * 20, 0, 0)).save(tmp_path / cls / f"{i}.png")
    report = scan_health(tmp_path, val_fraction=0.25)
    assert report.layout.startswith("one folder per class")
    assert report.small_classes == ["few"]
    assert report.imbalance_ratio == pytest.approx(15 / 2)
    assert any("imbalanced" in w for w in report.warnings)
    assert report.counts["few"] == {"train": 2, "val": 1}


def test_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_health(tmp_path / "missing")


def test_test_split_is_kept_aside(tmp_path):
    for split in ("train", "val", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (20, 20), (i * 50, 0, 0) if cls == "a" else (0, 0, i * 50)).save(
                    tmp_path / split / cls / f"{split}{i}.png")
    found = scan_folder_splits(tmp_path)
    assert len(found.test) == 6 and all("test" in str(p) for p, _ in found.test)
    bundle = build_data(DataSpec(name=str(tmp_path), image_size=16))
    assert bundle.test is not None and len(bundle.test) == 6 and len(bundle.train) == 6
    x, y = bundle.test[5]
    assert tuple(x.shape) == (3, 16, 16) and y == 1


def test_folder_without_test_has_none(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.new("RGB", (20, 20)).save(tmp_path / cls / f"{i}.png")
    assert build_data(DataSpec(name=str(tmp_path), image_size=16)).test is None
