"""The in-memory decode cache, the seeded split, dataset statistics and the augmentation preview."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import core.data.pipeline as pipeline_module
import core.io.images as imageio
from core.data import DataSpec, build_data, make_loader
from core.data.cache import CachedImageDataset, train_cache_side
from core.data.datasets import FileDataset
from core.data.folder import scan_image_folder
from core.data.preview import augmentation_preview
from core.data.stats import image_stats
from core.data.pipeline import decode_pixels, model_input
from core.data.transforms import DECODE_REDUCED, Augmentation


def _make_folder(root: Path, per_class: int = 8, size=(120, 90)) -> Path:
    colours = {"red": (200, 30, 30), "blue": (30, 30, 200)}
    for cls, colour in colours.items():
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", size, tuple(min(255, c + 3 * i) for c in colour)).save(root / cls / f"{i}.jpg", quality=95)
    return root


def _count_decodes(monkeypatch) -> list:
    calls = []
    real = imageio.load_image

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "load_image", counting)
    return calls


def test_epoch_two_decodes_nothing(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "d")
    calls = _count_decodes(monkeypatch)
    aug = Augmentation(random_resized_crop=True, horizontal_flip=True)
    bundle = build_data(DataSpec(name=str(root), image_size=32, augmentation=aug))
    assert len(calls) == 16  # every file decoded exactly once, while building
    assert isinstance(bundle.train, CachedImageDataset)
    for epoch in range(2):
        calls.clear()
        for x, y in make_loader(bundle.train, 4, shuffle=True, epoch=epoch):
            assert x.shape == (len(y), 3, 32, 32)
        for x, _ in make_loader(bundle.val, 4, shuffle=False):
            assert x.shape[1:] == (3, 32, 32)
        assert calls == [], f"epoch {epoch + 1} decoded {len(calls)} files"


def test_cache_works_with_loader_workers(tmp_path):
    root = _make_folder(tmp_path / "d", per_class=4)
    bundle = build_data(DataSpec(name=str(root), image_size=32,
                                 augmentation=Augmentation(random_resized_crop=True)))
    labels = []
    for x, y in make_loader(bundle.train, 3, shuffle=False, num_workers=2):
        assert x.shape[1:] == (3, 32, 32)
        labels += y.tolist()
    assert sorted(labels) == sorted(bundle.train.labels)


def test_over_budget_reads_from_disk(tmp_path, monkeypatch):
    root = _make_folder(tmp_path / "d")
    bundle = build_data(DataSpec(name=str(root), image_size=32, cache_mb=0.001))
    assert isinstance(bundle.train, FileDataset) and bundle.train.side == 32
    calls = _count_decodes(monkeypatch)
    bundle.train[0]
    assert len(calls) == 1


def test_cached_training_images_leave_room_for_random_crops(tmp_path):
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (400, 300), (10, 200, 10)).save(path)
    side, crop = train_cache_side(64, Augmentation(random_resized_crop=True))
    assert side > 64 and not crop
    img = decode_pixels(path, DECODE_REDUCED, side, crop)
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, side, int(side * 4 / 3))
    assert train_cache_side(64, Augmentation(horizontal_flip=True)) == (64, True)


def test_cached_val_matches_the_inference_transform(tmp_path):
    """The val set is cached at the eval geometry: it equals what the pipeline makes of the file for inference."""
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    bundle = build_data(DataSpec(name=str(tmp_path), image_size=24, val_fraction=0.5))
    _, _, val = scan_image_folder(tmp_path, 0.5, 0)
    expected = model_input(val[0][0], bundle.preprocess)
    got, label = bundle.val[0]
    assert label == val[0][1]
    assert torch.equal(got, expected)


def test_split_is_stratified_deterministic_and_disjoint(tmp_path):
    root = _make_folder(tmp_path / "d", per_class=10)
    a = scan_image_folder(root, 0.3, seed=5)
    b = scan_image_folder(root, 0.3, seed=5)
    c = scan_image_folder(root, 0.3, seed=6)
    assert a == b and a[2] != c[2]
    classes, train, val = a
    assert not {p for p, _ in train} & {p for p, _ in val}
    assert len(train) + len(val) == 20
    assert sorted(l for _, l in val) == [0, 0, 0, 1, 1, 1]


def test_statistics_come_from_the_training_images(tmp_path):
    root = _make_folder(tmp_path / "d")
    bundle = build_data(DataSpec(name=str(root), image_size=32))
    mean = bundle.preprocess.mean
    assert mean[0] == pytest.approx(mean[2], abs=0.02)  # as much red as blue: half the images each
    assert 0.4 < mean[0] < 0.6 and mean[1] < 0.2
    override = build_data(DataSpec(name=str(root), image_size=32, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2)))
    assert override.preprocess.mean == (0.5, 0.5, 0.5) and override.preprocess.std == (0.2, 0.2, 0.2)


def test_image_stats_exact():
    a = torch.zeros(3, 2, 2, dtype=torch.uint8)
    b = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    mean, std = image_stats([a, b])
    assert mean == (0.5, 0.5, 0.5) and std == (0.5, 0.5, 0.5)


def test_augmentation_preview_is_uint8_and_seeded(tmp_path):
    root = _make_folder(tmp_path / "d")
    aug = Augmentation(random_resized_crop=True, horizontal_flip=True, rotation_degrees=20, colour_jitter=0.4)
    bundle = build_data(DataSpec(name=str(root), image_size=32))
    grid = augmentation_preview(bundle, aug, n=6, seed=3)
    assert grid.shape == (6, 32, 32, 3) and grid.dtype == np.uint8
    assert np.array_equal(grid, augmentation_preview(bundle, aug, n=6, seed=3))
    assert not np.array_equal(grid, augmentation_preview(bundle, aug, n=6, seed=4))
    plain = augmentation_preview(bundle, Augmentation(), n=6, seed=3)
    assert not np.array_equal(grid, plain)  # the augmentation shows
    from_spec = augmentation_preview(DataSpec(name=str(root), image_size=32), aug, n=4)
    assert from_spec.shape == (4, 32, 32, 3)


def test_preview_of_grayscale_array_data_is_rgb():
    from core.data import DataBundle
    from core.data.datasets import ArrayDataset
    from core.data.transforms import Preprocess

    pre = Preprocess(28, 1, (0.5,), (0.5,))
    images = torch.randint(0, 255, (5, 1, 28, 28), dtype=torch.uint8)
    bundle = DataBundle(ArrayDataset(images, torch.zeros(5, dtype=torch.long), pre),
                        ArrayDataset(images, torch.zeros(5, dtype=torch.long), pre), ["a", "b"], pre, DataSpec())
    grid = augmentation_preview(bundle, Augmentation(horizontal_flip=True), n=3)
    assert grid.shape == (3, 28, 28, 3)
    assert np.array_equal(grid[..., 0], grid[..., 2])
