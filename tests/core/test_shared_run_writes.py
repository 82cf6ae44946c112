"""Training in a shared run folder (issue 18, the run-folder half): the run lock, a resume and --overwrite
never write through a planted link (file or folder, symbolic or hard), never obey a pause older than the run,
say what they refused, and --overwrite moves every artefact of the old run. Each test builds its hostile
folder from a real run and hashes a decoy tree outside it before and after."""
from __future__ import annotations

import json
import os
import time

import pytest

from core.cli.main import main
from core.runs import layout
from tests.support import hostile_runs as hr
from tests.support.cases import Case
from tests.support.decoys import Decoy
from tests.support.shared_cases import NEW_RUN, TRAIN_FLAGS, run_shared

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def shared_ctx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    return {"run_template": hr.make_template(folder), "probe": folder / "probe.png"}


@pytest.fixture
def decoy(tmp_path):
    return Decoy(tmp_path / "outside")


def _used_folder(path):
    path.mkdir()
    (path / layout.CONFIG).write_text("{}")
    return path


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_a_linked_lock_file_is_never_truncated_even_by_a_refused_run(tmp_path, decoy, capsys, how):
    """.lock as a link was emptied by any `train --out`, even one then refused (the folder held a run)."""
    run = _used_folder(tmp_path / "run")
    (os.symlink if how == "symlink" else os.link)(decoy.target, run / layout.LOCK)
    decoy.remember()
    assert main(["train", *NEW_RUN, "--epochs", "1", "--out", str(run), "--quiet"]) == 2
    decoy.assert_untouched()
    err = capsys.readouterr().err
    assert layout.LOCK in err and "Traceback" not in err


def test_overwrite_moves_every_artefact_of_the_old_run(shared_ctx, tmp_path, capsys):
    """--overwrite left layer_health.jsonl (the new run appended to it), probes/, dossier/, eval/... behind as
    if they were the new run's."""
    run = hr.copy_run(shared_ctx["run_template"], tmp_path / "run")
    old = sorted(name for name in os.listdir(run) if name in layout.ARTEFACTS or name.startswith("eval"))
    old_health = (run / layout.LAYER_HEALTH).read_text()
    assert {layout.LAYER_HEALTH, layout.PROBES, layout.DOSSIER, layout.EVAL, layout.TENSORBOARD, layout.RANKS,
            layout.META, layout.CONTROL} <= set(old)
    assert main(["train", *NEW_RUN, "--epochs", "1", "--out", str(run), "--overwrite", "--quiet",
                 "--layer-health-every", "3", "--device", "cpu"]) == 0
    previous = [p for p in run.iterdir() if p.name.startswith(layout.PREVIOUS_PREFIX)]
    assert len(previous) == 1 and sorted(os.listdir(previous[0])) == old
    assert (previous[0] / layout.LAYER_HEALTH).read_text() == old_health  # moved whole, never appended to
    new_health = [json.loads(line) for line in (run / layout.LAYER_HEALTH).read_text().splitlines()]
    run_start = json.loads((run / layout.METRICS).read_text().splitlines()[0])["time"]
    assert new_health and all(r["time"] >= run_start for r in new_health)  # only the new run's samples
    for name in (layout.PROBES, layout.DOSSIER, layout.RANKS, layout.META, layout.TENSORBOARD):
        assert not (run / name).exists(), name  # the new run made none of these: the old ones are gone


def test_a_resume_never_writes_through_linked_files_or_folders_and_says_what_it_refused(shared_ctx, tmp_path,
                                                                                        decoy, capsys):
    run = hr.copy_run(shared_ctx["run_template"], tmp_path / "run")
    for kind in ("link_layer_health", "link_probes_index", "link_dossier", "link_eval"):
        hr.plant(kind, run, decoy)
    assert main(["train", "--resume", str(run / layout.LAST), "--probe", str(shared_ctx["probe"]),
                 *TRAIN_FLAGS]) == 0
    out = capsys.readouterr().out
    for name in (layout.LAYER_HEALTH, layout.PROBES_INDEX, layout.DOSSIER, layout.EVAL):
        assert name in out and "does not write through a link" in out, name
    decoy.assert_untouched()
    assert all(os.path.islink(run / p) for p in (layout.LAYER_HEALTH, layout.DOSSIER, layout.EVAL))


def test_a_leftover_pause_never_holds_a_resume_and_the_run_says_so(shared_ctx, tmp_path, decoy, capsys):
    """A pause written just after a followed run ended held the next --resume paused for ever, silently."""
    run = hr.copy_run(shared_ctx["run_template"], tmp_path / "run")
    hr.plant("leftover_pause", run, decoy)
    started = time.monotonic()
    assert main(["train", "--resume", str(run / layout.LAST), "--epochs", "2", "--quiet", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "ignored a pause" in out and "a window that followed the run" in out
    assert time.monotonic() - started < 250


TRAIN_CASES = [("run_resume", k) for k in ("fifo_control", "zero_control", "deep_control", "link_metrics",
                                            "hard_metrics", "link_tensorboard", "temp_links", "number_int_beyond_float",
                                            "link_last", "fifo_topk", "link_ranks")] + \
              [("run_overwrite", k) for k in ("temp_links", "link_eval", "link_lock", "fifo_lock", "many_ranks")] + \
              [("run_out", k) for k in ("link_lock", "hard_lock", "fifo_lock")]


@pytest.mark.parametrize("action, kind", TRAIN_CASES)
def test_training_in_a_hostile_run_folder_is_refused_by_name_or_done_and_nothing_outside_changes(
        shared_ctx, tmp_path, action, kind):
    outcome = run_shared(Case(action, kind, 1), tmp_path, shared_ctx)
    assert outcome.verdict == "ok", f"{outcome.verdict}: {outcome.detail}"


def test_a_record_appended_to_a_hard_linked_metrics_file_never_reaches_its_other_name(tmp_path, decoy):
    """metrics.jsonl as a hard link to a file outside (or a backup's snapshot): the run appends to a copy of
    its own; the other name keeps its bytes."""
    from core.runs import records
    from core.runs.directory import RunDirectory

    run = RunDirectory(tmp_path / "run").create()
    os.link(decoy.target, run.metrics)
    decoy.remember()
    before = run.metrics.read_text()
    run.append_records([records.make("heartbeat", state="running")])
    decoy.assert_untouched()
    assert run.metrics.read_text().startswith(before) and os.stat(run.metrics).st_nlink == 1
    assert json.loads(run.metrics.read_text().splitlines()[-1])["kind"] == "heartbeat"
