"""A shared dataset's corrections file and move log are crafted: nothing outside the dataset is created,
moved, changed or truncated (a decoy tree hashed before and after), nothing hangs, memory stays bounded, and
every refusal names the file and the entry."""
from __future__ import annotations

import json
import os
import time

import pytest

from core.data import move_log
from core.data.corrections import (
    EXCLUDED_FOLDER,
    FILE_NAME,
    MOVE_LOG,
    CorrectionsError,
    load_corrections,
)
from core.data.correction_moves import apply_moves, undo_last_apply
from core.data.folder import scan_folder_splits
from tests.core.evalkit import write_shapes_folder
from tests.core.hostile_files import fifo, sparse_file
from tests.support.decoys import Decoy
from tests.support.isolation import run_under_memory_limit

pytestmark = pytest.mark.timeout(120)
CLASSES = ["circle", "square", "star"]


@pytest.fixture
def world(tmp_path):
    """A dataset beside a decoy tree; the whole of tmp_path outside the dataset is watched."""
    data = write_shapes_folder(tmp_path / "data", per_class=3, size=16, classes=CLASSES)
    decoy = Decoy(tmp_path / "home", watch=tmp_path, exclude=(data,))
    return data, decoy


def write_corrections(data, entries: dict) -> None:
    (data / FILE_NAME).write_text(json.dumps({"format": "layerscope-corrections", "version": 1,
                                              "entries": entries}))


def dataset_files(data) -> dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in data.rglob("*.png") if p.is_file()}


def labels(data) -> dict[str, str]:
    found = scan_folder_splits(data, 0.0, 0)
    return {p.name: found.classes[label] for p, label in found.train + found.val}


# ---- the corrections file: keys and labels that leave the dataset ------------------------------------------
def test_keys_and_labels_that_leave_the_dataset_are_left_out_and_named(world):
    data, decoy = world
    circle = sorted(p.name for p in (data / "circle").iterdir())
    outside = os.path.relpath(decoy.key, data)
    write_corrections(data, {
        outside: {"action": "relabel", "label": "star"},  # ../home/.ssh/id_rsa pulled into the dataset
        str(decoy.target): {"action": "exclude"},  # an absolute path
        f"circle/{circle[0]}": {"action": "relabel", "label": "../../home/.config/autostart"},
        f"circle/{circle[1]}": {"action": "relabel", "label": "/tmp"},
        f"circle/{circle[2]}": {"action": "relabel", "label": ".."},
        "square/x.png": {"action": "relabel", "label": ""},
        "square/y.png": {"action": "relabel", "label": "."},
    })
    corrections = load_corrections(data)
    assert corrections.entries == {}
    assert len(corrections.skipped) == 7
    assert all(str(data / FILE_NAME) in note for note in corrections.skipped)
    assert any(outside in note for note in corrections.skipped)
    assert any("left out" in n for n in scan_folder_splits(data, 0.0, 0).notes)
    before = dataset_files(data)
    moves = apply_moves(data)
    assert all(m["to"] is None for m in moves)
    assert dataset_files(data) == before  # nothing moved, nothing dropped into the root
    assert not list(data.glob("*.png"))
    decoy.assert_untouched()


def test_a_link_inside_the_dataset_that_points_out_is_not_followed_by_apply(world):
    data, decoy = world
    os.symlink(decoy.root / ".ssh", data / "circle" / "keys")
    write_corrections(data, {"circle/keys/id_rsa": {"action": "relabel", "label": "star"},
                             "circle/keys/../keys/id_rsa": {"action": "exclude"}})
    moves = apply_moves(data)
    assert [m["to"] for m in moves if m["from"]] == [None]
    assert "outside" in moves[0]["note"]
    decoy.assert_untouched()


def test_a_class_folder_that_is_a_link_out_receives_nothing(world):
    data, decoy = world
    os.symlink(decoy.autostart, data / "zebra")  # the scanner lists it as a class
    image = sorted((data / "circle").iterdir())[0]
    load = load_corrections(data)
    load.relabel(image, "zebra", CLASSES + ["zebra"])
    load.save()
    moves = apply_moves(data)
    assert moves[0]["to"] is None and "link" in moves[0]["note"] and str(data / "zebra") in moves[0]["note"]
    assert image.exists()
    decoy.assert_untouched()


def test_the_excluded_folder_as_a_link_sends_nothing_out(world):
    data, decoy = world
    os.symlink(decoy.autostart, data / EXCLUDED_FOLDER)
    image = sorted((data / "square").iterdir())[0]
    fixes = load_corrections(data)
    fixes.exclude(image)
    fixes.save()
    moves = apply_moves(data)
    assert moves[0]["to"] is None and str(data / EXCLUDED_FOLDER) in moves[0]["note"]
    assert image.exists()
    decoy.assert_untouched()


def test_the_same_file_under_two_keys_is_one_correction_in_the_view_and_in_apply(world):
    data, decoy = world
    image = sorted((data / "circle").iterdir())[0]
    write_corrections(data, {
        f"circle/{image.name}": {"action": "relabel", "label": "star", "time": 2.0},
        f"./circle//{image.name}": {"action": "exclude", "time": 1.0},
    })
    corrections = load_corrections(data)
    assert list(corrections.entries) == [f"circle/{image.name}"]
    assert any("same file" in note for note in corrections.skipped)
    assert labels(data)[image.name] == "star"  # the view relabels it ...
    apply_moves(data)
    assert (data / "star" / image.name).exists()  # ... and Apply does the same, not exclude it
    assert not (data / EXCLUDED_FOLDER).exists()
    decoy.assert_untouched()


# ---- links where the app writes -----------------------------------------------------------------------------
def test_a_planted_temp_link_is_not_written_through_by_a_relabel(world):
    data, decoy = world
    os.symlink(decoy.target, data / f".{FILE_NAME}.tmp")  # the temp name of earlier versions
    fixes = load_corrections(data)
    fixes.exclude(sorted((data / "circle").iterdir())[0])
    fixes.save()
    assert json.loads((data / FILE_NAME).read_text())["entries"]
    decoy.assert_untouched()


def test_the_corrections_file_as_a_link_is_refused_for_reading_and_writing(world):
    data, decoy = world
    os.symlink(decoy.target, data / FILE_NAME)
    fixes = load_corrections(data)
    assert fixes.problem and "symbolic link" in fixes.problem and str(data / FILE_NAME) in fixes.problem
    fixes.problem = None
    fixes.exclude(sorted((data / "circle").iterdir())[0])
    with pytest.raises(CorrectionsError, match="symbolic link"):
        fixes.save()
    decoy.assert_untouched()


def test_the_move_log_as_a_link_stops_apply_before_anything_moves(world):
    data, decoy = world
    os.symlink(decoy.target, data / MOVE_LOG)
    image = sorted((data / "circle").iterdir())[0]
    fixes = load_corrections(data)
    fixes.relabel(image, "star", CLASSES)
    fixes.save()
    with pytest.raises(CorrectionsError, match="symbolic link") as info:
        apply_moves(data)
    assert str(data / MOVE_LOG) in str(info.value)
    assert image.exists()
    with pytest.raises(CorrectionsError, match="symbolic link"):
        undo_last_apply(data)
    decoy.assert_untouched()


# ---- the move log: Undo Apply reverses only what this app recorded for this user ----------------------------
def crafted_log(data, moves: list[dict], mac: str = "0" * 64) -> None:
    line = {"time": time.time(), "moves": moves, "mac": mac}
    (data / MOVE_LOG).write_text(json.dumps(line) + "\n")


def test_a_crafted_move_log_moves_nothing_and_names_the_file_and_line(world):
    data, decoy = world
    image = sorted((data / "circle").iterdir())[0]
    crafted_log(data, [
        {"from": str(decoy.key), "to": f"circle/{image.name}", "action": "relabel"},  # the key into the dataset
        {"from": "../home/.config/autostart/x.desktop", "to": f"circle/{image.name}", "action": "relabel"},
    ])
    before = dataset_files(data)
    with pytest.raises(CorrectionsError) as info:
        undo_last_apply(data)
    assert f"{data / MOVE_LOG} line 1" in str(info.value) and "checksum" in str(info.value)
    assert dataset_files(data) == before
    decoy.assert_untouched()


def test_a_log_line_with_paths_out_is_refused_even_when_signed(world):
    """Belt and braces: a signed line (a bug, or a stolen key) with a path out is still refused."""
    data, decoy = world
    key = move_log.user_key()
    moves = [{"from": str(decoy.key), "to": "circle/x.png", "action": "relabel"}]
    (data / MOVE_LOG).write_text(move_log.signed_line(moves, key) + "\n")
    with pytest.raises(CorrectionsError, match="absolute path"):
        undo_last_apply(data)
    decoy.assert_untouched()


def test_an_edited_line_of_a_real_log_is_refused_and_the_real_one_before_it_undone(world):
    data, decoy = world
    circle = sorted((data / "circle").iterdir())
    fixes = load_corrections(data)
    fixes.relabel(circle[0], "star", CLASSES)
    fixes.save()
    apply_moves(data)
    fixes = load_corrections(data)
    fixes.exclude(circle[1])
    fixes.save()
    apply_moves(data)
    lines = (data / MOVE_LOG).read_text().splitlines()
    edited = json.loads(lines[1])
    edited["moves"][0]["to"] = "../home/.config/autostart/x.desktop"  # point the undo elsewhere
    (data / MOVE_LOG).write_text(lines[0] + "\n" + json.dumps(edited) + "\n")
    results = undo_last_apply(data)
    refused = [r["note"] for r in results if r["from"] is None]
    assert len(refused) == 1 and f"{data / MOVE_LOG} line 2" in refused[0]
    assert circle[0].exists() and not circle[1].exists()  # the first Apply undone, the edited one not
    assert (data / EXCLUDED_FOLDER / "circle" / circle[1].name).exists()
    decoy.assert_untouched()


def test_another_users_log_is_not_undone(world, tmp_path_factory, monkeypatch):
    data, decoy = world
    fixes = load_corrections(data)
    image = sorted((data / "circle").iterdir())[0]
    fixes.relabel(image, "star", CLASSES)
    fixes.save()
    apply_moves(data)
    monkeypatch.setenv(move_log.CONFIG_ENV, str(tmp_path_factory.mktemp("someone-else")))
    with pytest.raises(CorrectionsError, match="checksum"):
        undo_last_apply(data)
    assert (data / "star" / image.name).exists()
    decoy.assert_untouched()


def test_the_key_is_made_private_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setenv(move_log.CONFIG_ENV, str(tmp_path / "config"))
    key = move_log.user_key()
    assert len(key) == 32 and move_log.user_key() == key
    assert (move_log.key_path().stat().st_mode & 0o777) == 0o600


def test_undo_never_replaces_a_file_that_took_the_old_place(world):
    data, decoy = world
    image = sorted((data / "circle").iterdir())[0]
    fixes = load_corrections(data)
    fixes.relabel(image, "star", CLASSES)
    fixes.save()
    apply_moves(data)
    image.write_bytes(b"a new file with the old name")
    results = undo_last_apply(data)
    assert results[0]["undone"] is False and "exists again" in results[0]["note"]
    assert image.read_bytes() == b"a new file with the old name"
    assert (data / "star" / image.name).exists()


# ---- files that hang, eat memory or crash a parser ---------------------------------------------------------
@pytest.mark.parametrize("make, words", [
    (lambda p: fifo(p), "named pipe"),
    (lambda p: sparse_file(p, 2 * 2**30), "limit"),
    (lambda p: p.write_text('{"format": "layerscope-corrections", "entries": ' + "[" * 50_000 + "]" * 50_000 + "}"),
     "nested"),
    (lambda p: p.write_text('{"format": "layerscope-corrections", "entries": {"a.png": {"action": "exclude", '
                            '"time": 1' + "0" * 400 + "}}}"), "number"),
    (lambda p: p.write_bytes(b"\xff\xfe{}"), "UTF-8"),
    (lambda p: p.write_text('{"format": "layerscope-corrections", "entries": {"a.png": "exclude"}}'), "object"),
])
def test_a_hostile_corrections_file_is_a_named_problem_and_the_data_still_loads(world, make, words):
    data, decoy = world
    make(data / FILE_NAME)
    corrections = load_corrections(data)
    assert corrections.problem and words in corrections.problem and str(data / FILE_NAME) in corrections.problem
    found = scan_folder_splits(data, 0.0, 0)
    assert len(found.train) == 9 and any(str(data / FILE_NAME) in n for n in found.notes)
    with pytest.raises(CorrectionsError):
        apply_moves(data)
    decoy.assert_untouched()


def test_a_move_log_that_is_a_fifo_or_huge_is_refused_without_hanging(world):
    data, decoy = world
    fifo(data / MOVE_LOG)
    with pytest.raises(CorrectionsError, match="named pipe"):
        undo_last_apply(data)
    os.unlink(data / MOVE_LOG)
    sparse_file(data / MOVE_LOG, 2 * 2**30)
    with pytest.raises(CorrectionsError, match="limit"):
        undo_last_apply(data)
    decoy.assert_untouched()


def test_a_link_to_dev_zero_as_the_corrections_file_under_a_memory_limit(world):
    data, decoy = world
    os.symlink("/dev/zero", data / FILE_NAME)
    done = run_under_memory_limit(f"""
        from core.data.corrections import load_corrections
        print(load_corrections({str(data)!r}).problem)
    """, imports=("core.data.corrections",), headroom=512 << 20, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "symbolic link" in done.stdout and str(data / FILE_NAME) in done.stdout
    decoy.assert_untouched()


def test_the_cli_refuses_a_crafted_log_with_the_usage_exit_code(world, capsys):
    from core.cli.main import main

    data, decoy = world
    crafted_log(data, [{"from": str(decoy.key), "to": "circle/x.png", "action": "relabel"}])
    assert main(["corrections", str(data), "undo-apply"]) == 2
    err = capsys.readouterr().err
    assert str(data / MOVE_LOG) in err and "line 1" in err
    assert main(["corrections", str(data), "relabel", str(sorted((data / "circle").iterdir())[0]), "../x"]) == 2
    assert "separator" in capsys.readouterr().err
    decoy.assert_untouched()
