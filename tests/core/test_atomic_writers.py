"""Every file core rewrites goes through core.io.atomic.atomic_write: a disk that fills while a file is being
replaced leaves the previous file whole, no temp file behind, and an error that names the file."""
import errno
import os

import numpy as np
import pytest

from core.errors import LayerscopeError
from core.io import atomic


def _disk_fills_at_fsync(monkeypatch):
    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(atomic.os, "fsync", full)


def _evaluation(tmp_path):
    from core.evaluate.result import EvalResult, save_evaluation

    result = EvalResult(["a", "b"], ["x.png", "y.png"], np.array([0, 1]), np.array([[0.9, 0.1], [0.3, 0.7]]))
    return lambda: save_evaluation(result, tmp_path), tmp_path / "per_image.csv"


def _label_issues(tmp_path):
    from core.evaluate.label_issues import LabelIssue, write_label_issues

    out = tmp_path / "issues.csv"
    return lambda: write_label_issues([LabelIssue("x.png", "a", "b", 0.5, True)], out), out


def _topk(tmp_path):
    from core.dossier.store import save_topk
    from core.dossier.topk import TopKResult

    out = tmp_path / "topk.npz"
    return lambda: save_topk(TopKResult({}, 1, 0), out), out


def _corrections(tmp_path):
    from core.data.corrections import Corrections, corrections_path

    (tmp_path / "cat").mkdir()
    corrections = Corrections(tmp_path)
    corrections.exclude(tmp_path / "cat" / "1.png")
    return corrections.save, corrections_path(tmp_path)


def _run_name(tmp_path):
    from core.runs.actions import rename_run
    from core.runs.layout import META as META_FILE

    return lambda: rename_run(tmp_path, "second name"), tmp_path / META_FILE  # RunActionError names the file


@pytest.mark.parametrize("writer", [_evaluation, _label_issues, _topk, _corrections, _run_name])
def test_a_full_disk_while_rewriting_keeps_the_old_file_and_leaves_no_temp(writer, tmp_path, monkeypatch):
    write, path = writer(tmp_path)
    write()
    before = path.read_bytes()
    assert before
    _disk_fills_at_fsync(monkeypatch)  # only atomic_write syncs: a hand-made temp + rename would not fail here
    with pytest.raises((OSError, LayerscopeError)) as failed:
        write()
    assert path.read_bytes() == before
    assert path.name in str(failed.value) or path.name in str(getattr(failed.value, "filename", ""))
    assert not [name for name in os.listdir(path.parent) if atomic.is_stale_temp(name)]


def test_a_csv_written_atomically_reads_back(tmp_path):
    import csv

    atomic.write_csv_atomic(tmp_path / "t.csv", ["a", "b"], [[1, "x,y"], [2, "z"]])
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["a", "b"], ["1", "x,y"], ["2", "z"]]


def test_a_cache_write_without_sync_still_replaces_whole_files(tmp_path, monkeypatch):
    _disk_fills_at_fsync(monkeypatch)  # never called when sync=False
    atomic.atomic_write(tmp_path / "thumb.png", lambda fh: fh.write(b"png"), sync=False)
    assert (tmp_path / "thumb.png").read_bytes() == b"png"
