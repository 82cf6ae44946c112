"""The labelling loop's engine: ranking, the labels log, copying into class folders, the queue CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.data.folder import scan_folder_splits
from core.labelling import labels_log
from core.labelling.apply import LabellingError, label_photo, mark, undo_last
from core.labelling.pool import DATASET, POOL, UNKNOWN, PoolError, folder_kind, pool_images
from core.labelling.queue import undecided
from core.labelling.ranking import k_centre, margin_uncertainty, rank
from tests.core.labellingkit import train_checkpoint, write_pool, write_shapes_dataset

CLASSES = ["circle", "square", "triangle"]


# ---- ranking ------------------------------------------------------------------------------------------------
def test_a_fifty_fifty_image_ranks_above_a_sure_one_under_uncertainty():
    probabilities = np.array([[0.99, 0.005, 0.005], [0.5, 0.5, 0.0], [0.7, 0.2, 0.1]])
    ranked = rank(probabilities, None, CLASSES, strategy="uncertainty", n=3)
    assert [r.index for r in ranked] == [1, 2, 0]
    assert "circle (50%)" in ranked[0].reason and "square (50%)" in ranked[0].reason
    assert margin_uncertainty(probabilities)[1] == pytest.approx(1.0)


def test_entropy_orders_the_same_way_for_these():
    probabilities = np.array([[0.99, 0.005, 0.005], [0.5, 0.5, 0.0]])
    ranked = rank(probabilities, None, CLASSES, strategy="uncertainty", measure="entropy", n=2)
    assert ranked[0].index == 1


def test_a_diverse_batch_holds_no_two_copies_of_one_image():
    rng = np.random.default_rng(0)
    distinct = rng.normal(size=(6, 16))
    copies = np.repeat(distinct, 4, axis=0)  # each picture four times, all equally uncertain
    probabilities = np.tile([0.5, 0.5, 0.0], (len(copies), 1))
    ranked = rank(probabilities, copies, CLASSES, strategy="diverse", n=10)
    originals = [r.index // 4 for r in ranked]
    assert len(originals) == len(set(originals)) == 6  # only six different pictures exist: six picks, no more


def test_k_centre_spreads_over_clusters():
    rng = np.random.default_rng(1)
    centres = np.eye(4, 8) * 10
    points = np.concatenate([c + rng.normal(scale=0.1, size=(50, 8)) for c in centres])
    picked = k_centre(points, 4)
    assert sorted(p // 50 for p in picked) == [0, 1, 2, 3]


def test_random_and_familiarity_strategies():
    probabilities = np.full((5, 3), 1 / 3)
    assert sorted(r.index for r in rank(probabilities, None, CLASSES, strategy="random", n=5, seed=3)) == \
        list(range(5))
    familiar = np.array([0.9, 0.1, 0.5, 0.95, 0.3])
    assert [r.index for r in rank(probabilities, None, CLASSES, strategy="familiarity", n=2,
                                  familiarity=familiar)] == [1, 4]
    with pytest.raises(ValueError, match="feature bank"):
        rank(probabilities, None, CLASSES, strategy="familiarity")


# ---- pools -----------------------------------------------------------------------------------------------------
def test_a_pool_is_told_from_a_dataset(tmp_path):
    dataset = write_shapes_dataset(tmp_path / "ds", count=12)
    pool = write_pool(tmp_path / "pool", count=4)
    assert folder_kind(dataset) == DATASET and folder_kind(pool) == POOL
    write_pool(dataset, count=1)  # loose photos beside class folders: the app has to ask
    assert folder_kind(dataset) == UNKNOWN
    assert len(pool_images(pool)) == 4
    with pytest.raises(PoolError, match="no images"):
        pool_images(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


# ---- applying labels ---------------------------------------------------------------------------------------
@pytest.fixture
def folders(tmp_path):
    return write_shapes_dataset(tmp_path / "ds", count=30), write_pool(tmp_path / "pool", count=6)


def test_labelling_copies_into_the_class_folder_and_undo_removes_it(folders):
    dataset, pool = folders
    photo = pool / "photo000.png"
    entry = label_photo(dataset, photo, "circle")
    copy = dataset / entry["copy"]
    assert copy.parent == dataset / "circle" and copy.read_bytes() == photo.read_bytes()
    assert photo.exists()  # the original never moves
    assert undo_last(dataset)["id"] == entry["id"]
    assert not copy.exists() and photo.exists()


def test_a_same_named_file_is_never_overwritten(folders):
    dataset, pool = folders
    taken = dataset / "circle" / "photo001.png"
    taken.write_bytes(b"the user's own file")
    entry = label_photo(dataset, pool / "photo001.png", "circle")
    assert taken.read_bytes() == b"the user's own file"
    assert entry["copy"] == str(Path("circle") / "photo001 (2).png")
    undo_last(dataset)
    assert taken.read_bytes() == b"the user's own file"


def test_a_new_class_makes_its_folder_and_bad_names_are_refused(folders):
    dataset, pool = folders
    label_photo(dataset, pool / "photo002.png", "star")
    assert (dataset / "star" / "photo002.png").is_file()
    undo_last(dataset)
    assert not (dataset / "star").exists()  # an empty folder would be a class with no images
    for bad in ("", "../escape", ".hidden"):
        with pytest.raises(LabellingError):
            label_photo(dataset, pool / "photo003.png", bad)


def test_the_labels_log_replays(folders):
    dataset, pool = folders
    photos = sorted(pool.iterdir())
    label_photo(dataset, photos[0], "circle")
    mark(dataset, photos[1], "skip")
    mark(dataset, photos[2], "none")
    label_photo(dataset, photos[3], "square", accepted=True)
    undo_last(dataset)  # takes back the acceptance
    with open(labels_log.log_path(dataset), "a", encoding="utf-8") as fh:
        fh.write('{"id": 99, "action": "label", "sour')  # a line cut off by a crash: never done
    state = labels_log.load_state(dataset)
    assert {Path(s).name: d["action"] for s, d in state.decisions.items()} == \
        {"photo000.png": "label", "photo001.png": "skip", "photo002.png": "none"}
    assert state.labelled == 1
    # the same log, replayed line by line, gives the same state at every point
    entries = labels_log.read_log(dataset)
    assert [e["action"] for e in entries] == ["label", "skip", "none", "accept", "undo"]
    assert len(labels_log.replay(entries[:4]).done) == 4
    # decided photos leave the queue; skipped ones come back
    left = undecided(photos, dataset)
    assert photos[0] not in left and photos[2] not in left and photos[1] in left and photos[3] in left


def test_none_of_these_images_never_enter_training(folders):
    dataset, pool = folders
    mark(dataset, pool / "photo004.png", "none")
    label_photo(dataset, pool / "photo005.png", "triangle")
    found = scan_folder_splits(dataset, 0.2, 0)  # the samples every run of this dataset trains and validates on
    trained_on = {Path(p).name for p, _ in found.train + found.val}
    files = {p.name for p in dataset.rglob("*.png")}
    assert "photo004.png" not in files and "photo005.png" in files
    assert "photo004.png" not in trained_on and "photo005.png" in trained_on


# ---- the CLI -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelling")
    dataset = write_shapes_dataset(root / "ds", count=60)
    return dataset, write_pool(root / "pool", count=20), train_checkpoint(dataset, root / "run")


@pytest.mark.parametrize("strategy", ["uncertainty", "diverse", "random"])
def test_label_queue_writes_the_queue(trained, tmp_path, capsys, strategy):
    from core.cli.main import main

    dataset, pool, checkpoint = trained
    out = tmp_path / "queue.csv"
    assert main(["label-queue", "--checkpoint", str(checkpoint), "--pool", str(pool), "--strategy", strategy,
                 "--n", "7", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 7 and set(rows[0]) == {"path", "suggested_label", "probability", "familiarity", "score",
                                               "reason"}
    assert {r["suggested_label"] for r in rows} <= set(CLASSES)
    assert all(0 <= float(r["probability"]) <= 1 for r in rows)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["queued"] == 7 and summary["pool"] == 20


def test_label_queue_names_a_folder_without_images(trained, tmp_path, capsys):
    from core.cli.main import main

    _, _, checkpoint = trained
    assert main(["label-queue", "--checkpoint", str(checkpoint), "--pool", str(_empty(tmp_path)),
                 "--out", str(tmp_path / "q.csv")]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_an_unreadable_photo_in_the_pool_is_left_out_and_named(trained, tmp_path):
    from core.labelling.pool_scores import score_pool

    _, pool, checkpoint = trained
    broken = tmp_path / "pool"
    broken.mkdir()
    for photo in sorted(pool.iterdir())[:3]:
        (broken / photo.name).write_bytes(photo.read_bytes())
    (broken / "zzz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    scores = score_pool(checkpoint, pool_images(broken))
    assert len(scores.paths) == 3 and scores.probabilities.shape == (3, 3) and len(scores.features) == 3
    assert [Path(p).name for p, _ in scores.unreadable] == ["zzz-broken.png"]
    assert scores.familiarity is not None and ((0 <= scores.familiarity) & (scores.familiarity <= 1)).all()
