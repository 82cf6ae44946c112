"""The feature bank: calibration, k-NN search, the predict --json object, and the bank file (round trip;
damaged, edited, stale and hostile files refused like a tampered checkpoint)."""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from core.familiarity.bank import FeatureBank, make_bank
from core.familiarity.bank_file import bank_path, load_bank, save_bank
from core.familiarity.calibration import Calibration
from core.familiarity.errors import BankError, StaleBankError
from core.familiarity.features import SPLIT_CODES, FeatureSet
from core.familiarity.knn import nearest, normalise
from core.familiarity.npzfile import DIGEST_KEY, digest
from core.familiarity.scoring import familiarity_many, familiarity_of, familiarity_scores, kth_distances

CLASSES = ["ants", "bees", "wasps"]
CHECKSUM = "ab" * 32


def clustered_features(n_train=300, n_val=60, dim=16, seed=0) -> FeatureSet:
    """Three well separated clusters (one per class) in positive space, like pooled ReLU features."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, dim) * 4 + 1
    labels = np.concatenate([np.arange(n_train) % 3, np.arange(n_val) % 3])
    feats = (centres[labels] + rng.normal(0, 0.3, (len(labels), dim))).astype(np.float32)
    logits = (np.eye(3)[labels] * 5 + rng.normal(0, 0.5, (len(labels), 3))).astype(np.float32)
    splits = np.r_[np.full(n_train, SPLIT_CODES["train"]), np.full(n_val, SPLIT_CODES["val"])].astype(np.uint8)
    ids = [f"/data/{CLASSES[y]}/img_{i:04d}.jpg" for i, y in enumerate(labels)]
    return FeatureSet(feats, logits, labels.astype(np.int64), splits, ids)


@pytest.fixture(scope="module")
def features() -> FeatureSet:
    return clustered_features()


@pytest.fixture(scope="module")
def bank(features) -> FeatureBank:
    return make_bank(features, CLASSES, CHECKSUM, k=5)


def test_calibration_makes_95_percent_of_validation_familiar_and_scores_fall_with_distance():
    rng = np.random.default_rng(1)
    reference = rng.gamma(4.0, 0.05, 400)
    cal = Calibration(reference)
    assert cal.familiar(reference).mean() == pytest.approx(0.95, abs=0.005)
    scores = cal.scores(reference)
    assert np.all((0 <= scores) & (scores <= 1))
    assert np.mean(scores) == pytest.approx(0.5, abs=0.01)  # the share of validation images farther
    assert np.mean(scores >= cal.threshold) == pytest.approx(0.95, abs=0.005)
    grid = np.linspace(0, reference.max() * 3, 500)
    assert np.all(np.diff(cal.scores(grid)) <= 0)
    far = cal.scores(np.array([reference.max() * 1.5, reference.max() * 3]))
    assert 0 < far[1] < far[0] < 1 / len(reference)  # still ordered beyond the farthest validation image
    assert cal.scores(np.array([np.nan]))[0] == 0.0


def test_nearest_matches_brute_force_and_can_leave_each_row_out():
    rng = np.random.default_rng(2)
    bank = normalise(rng.normal(size=(200, 8)))
    queries = normalise(rng.normal(size=(1100, 8)))  # more than one chunk of queries
    distances, rows = nearest(bank, queries, 4)
    expected = torch.cdist(queries, bank).topk(4, largest=False)
    assert torch.equal(rows, expected.indices)
    assert torch.allclose(distances, expected.values, atol=1e-3)
    self_d, self_rows = nearest(bank, bank, 3, exclude_self=True)
    assert not (self_rows == torch.arange(200)[:, None]).any() and (self_d > 0).all()


def test_the_json_object_is_exactly_what_predict_prints(bank, features):
    val = features.split("val")
    result = familiarity_of(bank, val.features[0])
    d = json.loads(json.dumps(result.to_dict()))
    assert list(d) == ["score", "familiar", "threshold", "nearest"]
    assert isinstance(d["score"], float) and 0 <= d["score"] <= 1 and isinstance(d["familiar"], bool)
    assert len(d["nearest"]) == 5 and all(list(n) == ["path", "label", "distance"] for n in d["nearest"])
    distances = [n["distance"] for n in d["nearest"]]
    assert distances == sorted(distances)
    assert {n["label"] for n in d["nearest"]} == {CLASSES[val.labels[0]]}  # its own cluster
    assert all(n["path"].startswith("/data/") for n in d["nearest"])


def test_far_features_are_unfamiliar_and_validation_mostly_familiar(bank, features):
    val = features.split("val")
    many = familiarity_many(bank, val.features)
    assert 0.90 <= np.mean([f.familiar for f in many]) <= 1.0
    far = np.random.default_rng(3).normal(0, 1, (50, 16)).astype(np.float32)  # directions no class has
    assert not any(f.familiar for f in familiarity_many(bank, far))
    assert np.all(familiarity_scores(bank, far) < many[0].threshold)


def test_a_training_image_is_not_its_own_neighbour(bank, features):
    train = features.split("train")
    with_self = kth_distances(bank, train.features)
    without_self = kth_distances(bank, train.features, ids=train.ids)
    assert np.all(without_self >= with_self - 1e-6) and np.mean(without_self > with_self) > 0.5


def test_a_bank_round_trips_through_its_file(tmp_path, bank, features):
    odd = features.subset(np.arange(len(features)))
    odd.ids[0] = "/data/caf\u00e9/\udcff-not-utf8.jpg"  # a file name that is not UTF-8 survives
    original = make_bank(odd, CLASSES, CHECKSUM, k=5)
    path = save_bank(original, tmp_path / "best.familiarity.npz")
    loaded = load_bank(path, CHECKSUM, CLASSES, feature_dim=16)
    assert loaded.ids == original.ids and loaded.classes == CLASSES and loaded.k == 5
    assert np.array_equal(loaded.labels, original.labels)
    assert torch.equal(loaded.features, original.features)
    val = features.split("val").features
    assert np.array_equal(familiarity_scores(loaded, val), familiarity_scores(original, val))
    assert [f.to_dict() for f in familiarity_many(loaded, val)] == [f.to_dict() for f in familiarity_many(original, val)]


def test_the_bank_is_named_after_its_checkpoint(tmp_path):
    assert bank_path(tmp_path / "best.pt") == tmp_path / "best.familiarity.npz"
    assert bank_path(tmp_path / "run.v2.pt").name == "run.v2.familiarity.npz"


def _members(path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _rewrite(path, arrays: dict, fix_digest: bool) -> None:
    arrays = dict(arrays)
    if fix_digest:  # an edit made by someone who also recomputed the checksum
        arrays.pop(DIGEST_KEY, None)
        arrays[DIGEST_KEY] = np.array(digest(arrays))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def saved(tmp_path, bank):
    return save_bank(bank, tmp_path / "best.familiarity.npz")


def test_a_bank_of_other_weights_is_refused_as_stale(saved):
    with pytest.raises(StaleBankError, match="other weights"):
        load_bank(saved, "cd" * 32, CLASSES)


@pytest.mark.parametrize("edit, fix_digest, reason", [
    (lambda a: a["features"].__setitem__((3, 2), a["features"][3, 2] + 0.5), False, "checksum"),
    (lambda a: a["features"].__setitem__((3, 2), a["features"][3, 2] + 0.5), True, "unit length"),
    (lambda a: a["features"].__setitem__((0, 0), np.inf), True, "not finite"),
    (lambda a: a["labels"].__setitem__(0, 7), True, "labels outside"),
    (lambda a: a.__setitem__("k", np.array(10**6)), True, "k ="),
    (lambda a: a.__setitem__("reference", np.array([np.nan], np.float32)), True, "calibration"),
    (lambda a: a.__setitem__("format", np.array("something-else")), True, "format"),
    (lambda a: a.__setitem__("format_version", np.array(99)), True, "version"),
    (lambda a: a.__setitem__("labels", a["labels"][:-1]), True, "labels"),
    (lambda a: a.__setitem__("features", a["features"].astype(np.float64)), True, "expected kind"),
    (lambda a: a.__setitem__("extra", np.zeros(3)), True, "unexpected members"),
    (lambda a: a.pop("id_ends"), True, "missing members"),
])
def test_an_edited_or_damaged_bank_is_refused(saved, edit, fix_digest, reason):
    arrays = _members(saved)
    edit(arrays)
    _rewrite(saved, arrays, fix_digest)
    with pytest.raises(BankError, match=reason):
        load_bank(saved, CHECKSUM, CLASSES)


def test_a_bank_for_other_classes_or_another_model_width_is_refused(saved):
    with pytest.raises(BankError, match="classes"):
        load_bank(saved, CHECKSUM, ["cats", "dogs", "people"])
    with pytest.raises(BankError, match="values"):
        load_bank(saved, CHECKSUM, CLASSES, feature_dim=512)


def test_a_pickled_array_is_never_unpickled(saved):
    arrays = _members(saved)
    arrays["labels"] = np.array([object()] * len(arrays["labels"]), dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # allow_pickle is on for writing: this is what a crafted file could hold
    saved.write_bytes(buffer.getvalue())
    with pytest.raises(BankError, match="expected kind"):
        load_bank(saved, CHECKSUM, CLASSES)


def test_a_header_claiming_a_huge_array_is_refused_before_anything_is_allocated(saved):
    arrays = _members(saved)
    with zipfile.ZipFile(saved) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    header = np.lib.format.header_data_from_array_1_0(arrays["features"])
    header["shape"] = (10**9, 10**4)  # 20 TB of float16
    fake = io.BytesIO()
    np.lib.format.write_array_header_1_0(fake, header)
    members["features.npy"] = fake.getvalue() + b"\0" * 64
    with zipfile.ZipFile(saved, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(BankError, match="larger than the whole file"):
        load_bank(saved, CHECKSUM, CLASSES)


@pytest.mark.parametrize("damage", [
    lambda data: data[:1000], lambda data: b"", lambda data: b"\x80\x04pickle" + data[20:],
    lambda data: data[:-30],
])
def test_truncated_or_foreign_files_are_refused(saved, damage):
    saved.write_bytes(damage(saved.read_bytes()))
    with pytest.raises(BankError, match="not a readable"):
        load_bank(saved, CHECKSUM, CLASSES)


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.familiarity.npz"
    os.mkfifo(fifo)
    with pytest.raises(BankError, match="pipe"):
        load_bank(fifo, CHECKSUM)
    link = tmp_path / "zero.familiarity.npz"
    link.symlink_to("/dev/zero")
    with pytest.raises(BankError, match="device"):
        load_bank(link, CHECKSUM)
    with pytest.raises(BankError, match="does not exist"):
        load_bank(tmp_path / "missing.familiarity.npz", CHECKSUM)
