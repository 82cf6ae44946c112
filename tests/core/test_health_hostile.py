"""Issue 12, finding 2 (folders): the health scan lists every entry it cannot use, reads within a budget,
and `dataset` and `train` agree about a file (the same header check)."""
import os

import pytest

from core.cli.main import main
from core.data import DataSpec, build_data
from core.data.health import scan_health
from tests.core import hostile_files as hf

pytestmark = pytest.mark.timeout(60)  # a FIFO opened by mistake would block forever


def hostile_folder(root):
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            hf.small_png(root / cls / f"{i}.png", value=40 * i + (cls == "dogs"))
    cats = root / "cats"
    return {"fifo": hf.fifo(cats / "f.png"), "loop": hf.symlink_loop(cats / "loop.png"),
            "dangling": hf.dangling_link(cats / "dangling.png"),
            "folder": hf.folder_named_like_image(cats / "x.jpg"),
            "sparse": hf.sparse_file(cats / "huge.png"), "wide": hf.wide_png(root / "dogs" / "wide.png")}


def test_health_scan_lists_every_skipped_entry_with_its_reason(tmp_path):
    bad = hostile_folder(tmp_path / "d")
    report = scan_health(tmp_path / "d")
    kinds = {os.path.basename(p.path): p.kind for p in report.problems}
    assert kinds == {"f.png": "not_regular", "loop.png": "symlink_loop", "dangling.png": "dangling_link",
                     "x.jpg": "folder", "huge.png": "file_too_big", "wide.png": "too_large"}
    reasons = {os.path.basename(p.path): p.reason for p in report.problems}
    assert "1000000 x 1 px" in reasons["wide.png"] and "not an image" not in reasons["wide.png"]
    assert report.good_files == 8 and report.total_files == 8 + len(bad)
    text = report.format_text()
    assert all(str(path) in text for path in bad.values())


def test_dataset_and_train_agree_on_the_wide_png(tmp_path):
    root = tmp_path / "d"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            hf.small_png(root / cls / f"{i}.png", value=50 * i + (cls == "b"))
    wide = hf.wide_png(root / "a" / "wide.png")
    assert {p.path for p in scan_health(root).problems} == {str(wide)}
    bundle = build_data(DataSpec(name=str(root), image_size=16, val_fraction=0.34))
    assert [path for path, _ in bundle.excluded] == [str(wide)]
    assert len(bundle.train) + len(bundle.val) == 6


def test_train_skips_the_wide_png_holds_out_for_an_empty_val_and_writes_best(tmp_path, capsys):
    root = tmp_path / "d"
    for cls in ("a", "b"):
        (root / "train" / cls).mkdir(parents=True)
        (root / "val" / cls).mkdir(parents=True)
        for i in range(4):
            hf.small_png(root / "train" / cls / f"{i}.png", value=60 * i + (cls == "b"))
    hf.wide_png(root / "train" / "a" / "wide.png")
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(root), "--model", "mlp", "--hidden", "8", "--epochs", "1",
                 "--image-size", "16", "--batch-size", "4", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "wide.png" in out and "1000000 x 1 px" in out
    assert "val/ has no images" in out and "held out for validation instead" in out
    assert (run / "best.pt").is_file()
