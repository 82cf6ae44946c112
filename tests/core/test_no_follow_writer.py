"""The one writer never follows a link: not the file, not its temp, not a folder on the way; moves never
replace a file and never leave the folder; and the confinement rule refuses every way out."""
from __future__ import annotations

import os
import stat

import pytest

from core.io.atomic import LinkRefused, append_lines, atomic_write, exists_in, move_within, write_text_atomic
from core.io.confine import ConfinementError, class_name, inside
from tests.core.hostile_files import fifo
from tests.support.decoys import Decoy

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def decoy(tmp_path):
    return Decoy(tmp_path / "outside")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "dataset"
    path.mkdir()
    return path


def test_a_file_that_is_a_link_is_refused_not_written_through(folder, decoy):
    os.symlink(decoy.target, folder / "config.json")
    with pytest.raises(LinkRefused) as info:
        write_text_atomic(folder / "config.json", "{}", inside=folder)
    assert str(folder / "config.json") in str(info.value)
    decoy.assert_untouched()
    assert os.path.islink(folder / "config.json")


def test_a_planted_temp_link_is_never_opened(folder, decoy, monkeypatch):
    """Temp names are random and created with O_EXCL | O_NOFOLLOW: a link standing on the drawn name is
    skipped (another name is drawn), never written through."""
    from core.io import atomic

    names = iter(["aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    os.symlink(decoy.target, folder / ".summary.json.aaaa.tmp")
    write_text_atomic(folder / "summary.json", "new", inside=folder)
    assert (folder / "summary.json").read_text() == "new"
    decoy.assert_untouched()


def test_a_folder_on_the_way_that_is_a_link_is_refused(folder, decoy):
    os.symlink(decoy.root, folder / "eval")
    with pytest.raises(LinkRefused) as info:
        write_text_atomic(folder / "eval" / "summary.json", "{}", inside=folder)
    assert str(folder / "eval") in str(info.value)
    with pytest.raises(LinkRefused):
        append_lines(folder / "eval" / "log.jsonl", ["{}"], inside=folder)
    decoy.assert_untouched()


def test_the_chosen_folder_itself_may_be_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "chosen")
    write_text_atomic(tmp_path / "chosen" / "sub" / "a.json", "1", inside=tmp_path / "chosen")
    assert (real / "sub" / "a.json").read_text() == "1"


def test_append_refuses_a_link_and_a_fifo_and_appends_to_a_plain_file(folder, decoy):
    os.symlink(decoy.target, folder / "moves.jsonl")
    with pytest.raises(LinkRefused):
        append_lines(folder / "moves.jsonl", ["x"], inside=folder)
    fifo(folder / "pipe.jsonl")
    with pytest.raises(LinkRefused):
        append_lines(folder / "pipe.jsonl", ["x"], inside=folder)
    append_lines(folder / "log.jsonl", ["a", "b"], inside=folder)
    append_lines(folder / "log.jsonl", ["c"], inside=folder)
    assert (folder / "log.jsonl").read_text() == "a\nb\nc\n"
    decoy.assert_untouched()


def test_written_files_get_the_umask_mode(folder):
    path = atomic_write(folder / "a.bin", lambda fh: fh.write(b"1"), inside=folder)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert not list(folder.glob(".*.tmp"))


def test_move_within_never_replaces_and_never_follows(folder, decoy):
    (folder / "cats").mkdir()
    (folder / "cats" / "a.png").write_bytes(b"a")
    (folder / "dogs").mkdir()
    (folder / "dogs" / "a.png").write_bytes(b"dog")
    with pytest.raises(FileExistsError):
        move_within(folder, ("cats", "a.png"), ("dogs", "a.png"))
    assert (folder / "dogs" / "a.png").read_bytes() == b"dog"
    os.symlink(decoy.root, folder / "birds")
    with pytest.raises(LinkRefused):
        move_within(folder, ("cats", "a.png"), ("birds", "a.png"))
    assert (folder / "cats" / "a.png").exists()
    moved = move_within(folder, ("cats", "a.png"), ("new", "a.png"))
    assert moved.read_bytes() == b"a" and not (folder / "cats" / "a.png").exists()
    assert exists_in(folder, ("new", "a.png")) and not exists_in(folder, ("birds", "secret"))
    decoy.assert_untouched()


def test_move_within_moves_a_link_itself_not_its_target(folder, decoy):
    (folder / "cats").mkdir()
    os.symlink(decoy.target, folder / "cats" / "x.png")
    move_within(folder, ("cats", "x.png"), ("dogs", "x.png"))
    assert os.readlink(folder / "dogs" / "x.png") == str(decoy.target)
    decoy.assert_untouched()


@pytest.mark.parametrize("entry", ["/etc/passwd", "../outside/secret", "a/../../x", "..", "", "a\0b", "C:\\x",
                                   "\\\\server\\share", 5, None, "./", "a\nb"])
def test_inside_refuses_every_way_out(folder, entry):
    with pytest.raises(ConfinementError) as info:
        inside(folder, entry, source=folder / "moves.jsonl")
    assert str(folder / "moves.jsonl") in str(info.value)


def test_inside_refuses_a_link_that_points_out_and_keeps_what_stays_in(folder, decoy):
    os.symlink(decoy.root, folder / "out")
    with pytest.raises(ConfinementError):
        inside(folder, "out/secret")
    (folder / "cats").mkdir()
    os.symlink("cats", folder / "kitties")
    assert inside(folder, "kitties/a.png") == folder / "kitties" / "a.png"
    assert inside(folder, "./cats//a.png") == folder / "cats" / "a.png"


@pytest.mark.parametrize("label", ["", " ", ".", "..", "../x", "a/b", "a\\b", "/abs", "x\0", "tab\there",
                                   ".layerscope-excluded", "é" * 200, 3, None])
def test_class_name_refuses_what_is_not_a_folder_name(label):
    with pytest.raises(ConfinementError):
        class_name(label, source="corrections.json")


def test_class_name_keeps_ordinary_names():
    for label in ("cat", "Golden retriever", "défaut-01", "猫"):
        assert class_name(label) == label
