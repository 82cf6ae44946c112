"""Issue 12, finding 3: folder layouts are read as a person means them, and what cannot be used is said."""
import pytest

from core.data.folder import scan_folder_splits
from core.data.health import scan_health
from tests.core import hostile_files as hf


def make(root, layout: dict[str, int]):
    """{'train/cats': 3, ...} -> that many tiny PNGs in each folder (0: an empty folder)."""
    for rel, count in layout.items():
        folder = root / rel
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            hf.small_png(folder / f"{i}.png", value=10 * i)
    return root


def test_training_and_validation_folders_are_splits_not_classes(tmp_path):
    root = make(tmp_path / "d", {"training/cats": 3, "training/dogs": 3, "validation/cats": 2,
                                 "validation/dogs": 2})
    found = scan_folder_splits(root)
    assert found.classes == ["cats", "dogs"]
    assert len(found.train) == 6 and len(found.val) == 4
    assert all("validation" in str(p) for p, _ in found.val)
    assert scan_health(root).layout.startswith("training/ and validation/ folders")


def test_valid_is_validation_and_testing_is_kept_aside(tmp_path):
    root = make(tmp_path / "d", {"train/a": 3, "train/b": 3, "valid/a": 1, "valid/b": 1, "testing/a": 2,
                                 "testing/b": 2})
    found = scan_folder_splits(root)
    assert found.classes == ["a", "b"] and len(found.val) == 2 and len(found.test) == 4
    assert all("testing" in str(p) for p, _ in found.test)


def test_tool_and_hidden_folders_are_never_classes_or_images(tmp_path):
    root = make(tmp_path / "d", {"cats": 3, "dogs": 3, "__MACOSX/cats": 3, ".git/objects": 1,
                                 ".ipynb_checkpoints": 1, "cats/.ipynb_checkpoints": 2, "dogs/__MACOSX": 2,
                                 "dogs/.thumbnails": 2})
    found = scan_folder_splits(root, val_fraction=0)
    assert found.classes == ["cats", "dogs"]
    assert sorted(p.parent.name for p, _ in found.train) == ["cats"] * 3 + ["dogs"] * 3
    assert any("__MACOSX" in p for p in scan_health(root).ignored)


def test_a_class_only_in_val_is_a_named_problem_and_left_out(tmp_path):
    root = make(tmp_path / "d", {"train/a": 3, "train/b": 3, "val/a": 1, "val/b": 1, "val/c": 2})
    assert scan_folder_splits(root).classes == ["a", "b"]
    report = scan_health(root)
    assert any("'c' is only in val/" in w and "left out" in w for w in report.warnings)
    assert "'c' is only in val/" in report.format_text()


@pytest.mark.parametrize("val_layout", [{"val/a": 0, "val/b": 0}, {"val": 0}], ids=["empty-classes", "bare"])
def test_an_empty_val_folder_holds_out_part_of_train_instead(tmp_path, val_layout):
    root = make(tmp_path / "d", {"train/a": 5, "train/b": 5, **val_layout})
    found = scan_folder_splits(root, val_fraction=0.2)
    assert len(found.val) == 2 and len(found.train) == 8 and {lbl for _, lbl in found.val} == {0, 1}
    report = scan_health(root)
    assert any("val/ has no images" in w and "20 % of train/ is held out" in w for w in report.warnings)
