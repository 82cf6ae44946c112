"""The map: PCA at once, t-SNE in cancellable stages, UMAP optional; new points placed on an existing map;
successive maps aligned; the headless embed job writes map.csv and map.png."""
from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import Cancelled
from core.datamap.align import Similarity, fit_similarity
from core.datamap.project import MapError, project
from core.datamap.replay import replay_maps, replay_run
from core.familiarity.features import SPLIT_CODES, FeatureSet
from core.familiarity.knn import normalise


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def clusters(per_class=40, dim=12, seed=0, spread=0.25) -> FeatureSet:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), per_class)
    centres = np.eye(3, dim) * 3 + 0.5
    feats = (centres[labels] + rng.normal(0, spread, (len(labels), dim))).astype(np.float32)
    splits = np.where(np.arange(len(labels)) % 5 == 0, SPLIT_CODES["val"], SPLIT_CODES["train"]).astype(np.uint8)
    return FeatureSet(feats, np.eye(3, dtype=np.float32)[labels] * 4, labels, splits,
                      [f"img{i:03d}" for i in range(len(labels))])


def neighbours_agree(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    d = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    near = np.argsort(d, axis=1)[:, :k]
    return float((labels[near] == labels[:, None]).mean())


def test_pca_places_a_known_image_exactly_where_it_is():
    data = clusters()
    projection = project(data.features, "pca")
    assert projection.points.shape == (len(data), 2) and projection.points.dtype == np.float32
    assert np.allclose(projection.place(data.features[:7]), projection.points[:7], atol=1e-4)
    assert neighbours_agree(projection.points, data.labels) > 0.95


def test_tsne_separates_clusters_reports_stages_and_places_new_points_among_their_kind():
    data = clusters()
    stages = []
    projection = project(data.features, "tsne", progress=lambda d, t, m: stages.append((d, t, m)))
    assert neighbours_agree(projection.points, data.labels) > 0.95
    assert [s for s in stages if s[2] == "t-SNE"] == [(i, 4, "t-SNE") for i in range(1, 5)]
    fresh = clusters(per_class=3, seed=9)  # new images of each class land inside their class's cloud
    placed = projection.place(fresh.features)
    centres = np.stack([projection.points[data.labels == c].mean(0) for c in range(3)])
    nearest_centre = ((placed[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    assert np.array_equal(nearest_centre, fresh.labels)


def test_tsne_is_cancelled_between_stages():
    data = clusters()
    stages = []
    with pytest.raises(Cancelled):
        project(data.features, "tsne", progress=lambda d, t, m: stages.append(m),
                cancelled=lambda: stages.count("t-SNE") >= 1)
    assert stages.count("t-SNE") == 1


@pytest.mark.skipif(importlib.util.find_spec("umap") is not None, reason="umap-learn is installed here")
def test_umap_without_umap_learn_says_what_to_install():
    with pytest.raises(MapError, match="pip install umap-learn"):
        project(clusters().features, "umap")


def test_unknown_methods_and_too_few_images_are_refused_with_a_reason():
    with pytest.raises(MapError, match="unknown map method"):
        project(clusters().features, "mds")
    with pytest.raises(MapError, match="more images"):
        project(clusters().features[:3], "tsne")


def test_alignment_undoes_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(50, 2))
    angle = 1.1
    turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    moved = Similarity(turn, 3.5, np.array([10.0, -4.0])).apply(points)
    back = fit_similarity(moved, points)
    assert np.allclose(back.apply(moved), points, atol=1e-4)


def test_replayed_maps_do_not_jump_between_epochs():
    first = clusters(seed=1)
    # The next epoch: the same images, features slightly changed and in a rotated feature basis, which
    # flips and turns an unaligned PCA map.
    basis, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(12, 12)))
    second = FeatureSet((first.features + np.random.default_rng(6).normal(0, 0.02, first.features.shape)) @ basis,
                        first.logits, first.labels, first.splits, list(first.ids))
    maps = replay_maps([(2, second), (1, first)], "pca")
    assert [m.epoch for m in maps] == [1, 2]
    a, b = maps[0].points, maps[1].points
    scale = np.abs(a).max()
    assert np.abs(a - b).max() < 0.1 * scale  # aligned: each point stays where it was
    unaligned = project(second.features, "pca").points
    assert np.abs(unaligned - a).max() > np.abs(a - b).max()
    # a point placed on the aligned map lands in the aligned frame too
    assert np.allclose(maps[1].projection.place(second.features[:3]), b[:3], atol=1e-3)


def test_the_runs_epoch_files_replay_as_aligned_maps(tmp_path):
    from core.familiarity.store import epoch_features_path, save_features

    first = clusters(seed=1)
    save_features(epoch_features_path(tmp_path, 1), first, ["a", "b", "c"], "0" * 64, 1)
    save_features(epoch_features_path(tmp_path, 3), clusters(seed=2), ["a", "b", "c"], "1" * 64, 3)
    epoch_features_path(tmp_path, 2).write_bytes(b"damaged")
    maps, skipped = replay_run(tmp_path, "pca")
    assert [m.epoch for m in maps] == [1, 3] and [p.name for p, _ in skipped] == ["epoch-0002.npz"]
    assert maps[0].points.shape == (len(first), 2)


def test_placing_uses_unit_features_like_familiarity():
    data = clusters()
    projection = project(data.features, "pca")
    assert np.allclose(projection.place(data.features[:4] * 7.0), projection.points[:4], atol=1e-4)
    assert torch.allclose(projection.features.norm(dim=1), torch.ones(len(data)), atol=1e-5)
    assert torch.allclose(projection.features, normalise(data.features))


def test_embed_writes_the_csv_and_the_png_of_a_checkpoints_own_data(tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from core.data import DataSpec, build_data
    from core.datamap.embed import CSV_HEADER, embed
    from core.familiarity.jobs import build_bank
    from tests.core.familiaritykit import save_model_checkpoint, tiny_model

    data = build_data(DataSpec(name="shapes", train_count=60, val_count=25, image_size=24, seed=4))
    options = {"channels": 4, "blocks": 2}
    path = save_model_checkpoint(tiny_model("cnn", options=options), data.classes, data.preprocess,
                                 tmp_path / "run" / "best.pt", options=options)
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": data.spec.to_dict()}
    save_checkpoint(ckpt, path)
    reports = []
    result = embed(path, None, tmp_path / "map", "pca", progress=lambda d, t, m: reports.append(m))
    assert {"features", "pca"} <= set(reports)
    with open(result.csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 1 + 85
    body = rows[1:]
    assert {r[1] for r in body} == {"train", "val"} and sum(r[1] == "val" for r in body) == 25
    assert all(r[2] in data.classes and r[3] in data.classes for r in body)
    assert all(0 <= float(r[4]) <= 1 and 0 <= float(r[5]) <= 1 for r in body)
    assert body[0][0] == "shapes:train/00000"
    assert np.allclose([[float(r[6]), float(r[7])] for r in body], result.projection.points, rtol=1e-3, atol=1e-3)
    with Image.open(result.png) as image:
        assert image.format == "PNG" and image.size[0] > 300
    build_bank(path)  # with a stored bank the map uses it: the same scores for the validation rows
    again = embed(path, None, tmp_path / "map2", "pca")
    val = again.features.splits == SPLIT_CODES["val"]
    assert np.allclose(again.familiarity[val], result.familiarity[val], atol=1e-6)
    assert not again.notes


def test_tensorboard_projector_files_hold_every_image_and_a_sprite(tmp_path):
    from core.datamap.projector import write_projector

    data = clusters(per_class=10)
    data.ids[0] = "odd\tname\nwith breaks"
    pictures = {name: np.full((12, 12, 3), 40 * (i % 5), np.uint8) for i, name in enumerate(data.ids)}
    written = write_projector(tmp_path, data, ["a", "b", "c"], np.linspace(0, 1, len(data)), pictures.get)
    assert sorted(p.name for p in written) == ["metadata.tsv", "projector_config.pbtxt", "sprite.png", "tensors.tsv"]
    tensors = (tmp_path / "tensors.tsv").read_text().splitlines()
    assert len(tensors) == 30 and all(len(row.split("\t")) == 12 for row in tensors)
    assert np.allclose(np.array([[float(v) for v in row.split("\t")] for row in tensors]), data.features, atol=1e-4)
    meta = (tmp_path / "metadata.tsv").read_text().splitlines()
    assert meta[0] == "id\tsplit\tlabel\tprediction\tfamiliarity" and len(meta) == 31
    assert all(len(row.split("\t")) == 5 for row in meta) and meta[1].startswith("odd name with breaks\t")
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "tensors.tsv"' in config and "single_image_dim: 64" in config
    with Image.open(tmp_path / "sprite.png") as sprite:
        assert sprite.size == (6 * 64, 6 * 64)  # 30 thumbnails on a 6 x 6 sheet
