"""Corrections: kept beside the dataset, applied by the data layer, undoable; Apply moves files safely."""
import json

import pytest

from core.data.corrections import (
    FILE_NAME,
    CorrectionsError,
    load_corrections,
)
from core.data.correction_moves import apply_moves, undo_last_apply
from core.data.folder import scan_folder_splits
from tests.core.evalkit import write_shapes_folder

CLASSES = ["circle", "square", "star"]


@pytest.fixture
def folder(tmp_path):
    return write_shapes_folder(tmp_path / "data", per_class=4, size=16, classes=CLASSES)


def labels_by_name(root):
    found = scan_folder_splits(root, 0.0, 0)
    return {p.name: found.classes[label] for p, label in found.train + found.val}


def test_relabel_exclude_undo_and_the_data_layer(folder):
    circle = sorted((folder / "circle").iterdir())
    corrections = load_corrections(folder)
    corrections.relabel(circle[0], "star", CLASSES)
    corrections.exclude(circle[1])
    corrections.confirm(circle[2])
    corrections.save()
    labels = labels_by_name(folder)
    assert labels[circle[0].name] == "star" and circle[1].name not in labels and labels[circle[2].name] == "circle"
    assert "1 relabelled, 1 excluded" in " ".join(scan_folder_splits(folder, 0.2, 0).notes)
    corrections = load_corrections(folder)
    assert corrections.undo() == "circle/" + circle[2].name
    assert corrections.undo() == "circle/" + circle[1].name
    corrections.save()
    assert circle[1].name in labels_by_name(folder)  # the exclusion was undone
    assert labels_by_name(folder)[circle[0].name] == "star"


def test_relabel_into_a_missing_class_is_refused(folder):
    corrections = load_corrections(folder)
    with pytest.raises(CorrectionsError, match="no such class"):
        corrections.relabel(next((folder / "circle").iterdir()), "dog", CLASSES)


def test_a_garbage_file_means_original_labels_and_a_clear_note(folder):
    (folder / FILE_NAME).write_text("{ this is not json")
    corrections = load_corrections(folder)
    assert corrections.problem and FILE_NAME in corrections.problem and not corrections.entries
    found = scan_folder_splits(folder, 0.0, 0)
    assert any("original labels are used" in n for n in found.notes)
    assert len(found.train) == 12
    (folder / FILE_NAME).write_text(json.dumps({"format": "layerscope-corrections", "entries": {"x.png": {"action": "burn"}}}))
    assert 'entries["x.png"].action' in load_corrections(folder).problem


def test_apply_moves_never_overwrites_and_can_be_undone(folder):
    circle = sorted((folder / "circle").iterdir())
    clash = folder / "star" / circle[0].name
    clash.write_bytes(b"someone else's file")
    corrections = load_corrections(folder)
    corrections.relabel(circle[0], "star", CLASSES)
    corrections.exclude(circle[1])
    corrections.save()
    moves = apply_moves(folder)
    assert clash.read_bytes() == b"someone else's file"  # untouched
    moved = next(m for m in moves if m["action"] == "relabel")
    assert "already existed" in moved["note"] and moved["to"].endswith(" (2).png")
    assert not circle[0].exists() and not circle[1].exists()
    assert load_corrections(folder).entries == {}  # applied entries are done
    labels = labels_by_name(folder)
    assert labels[circle[0].stem + " (2).png"] == "star" and circle[1].name not in labels
    undone = undo_last_apply(folder)
    assert all(u["undone"] for u in undone) and circle[0].exists() and circle[1].exists()
    with pytest.raises(CorrectionsError, match="nothing|no applied"):
        undo_last_apply(folder)


def test_cli_corrections_and_the_health_report(folder, capsys):
    from core.cli.main import main
    from core.data.health import scan_health

    image = sorted((folder / "square").iterdir())[0]
    assert main(["corrections", str(folder), "relabel", str(image), "dog"]) == 2
    assert "no such class" in capsys.readouterr().err
    assert main(["corrections", str(folder), "relabel", str(image), "star"]) == 0
    assert main(["corrections", str(folder), "list"]) == 0
    assert f"square/{image.name}: relabel star" in capsys.readouterr().out
    report = scan_health(folder)
    assert report.counts["star"]["train"] + report.counts["star"]["val"] == 5
    assert any("1 relabelled" in w for w in report.warnings)
    assert main(["corrections", str(folder), "undo"]) == 0
    assert main(["corrections", str(folder), "list"]) == 0
    assert "no corrections" in capsys.readouterr().out
