"""The image-folder dataset on real photos (ants vs bees)."""
from core.data import DataSpec, build_data
from core.data.folder import stratified_split


def test_hymenoptera_uses_its_train_and_val_folders(shared_data):
    bundle = build_data(DataSpec(name=str(shared_data / "hymenoptera"), image_size=64))
    assert bundle.classes == ["ants", "bees"]
    assert len(bundle.train) == 100 and len(bundle.val) == 50
    x, y = bundle.val[0]
    assert tuple(x.shape) == (3, 64, 64) and y in (0, 1)


def test_stratified_split_keeps_every_class_in_both_splits():
    samples = [(f"c{c}/{i}.png", c) for c in range(3) for i in range(c + 2)]
    train, val = stratified_split(samples, 0.3, seed=1)
    assert {l for _, l in train} == {l for _, l in val} == {0, 1, 2}
    assert sorted(train + val) == sorted(samples)
