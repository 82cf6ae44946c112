"""One feature pass: the input of the last Linear and the logits from the same forward, for every kind of
model the app builds, in order, with progress and cancel per batch; kept in the run folder per checkpoint and
per epoch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import Cancelled
from core.data import DataSpec, build_data
from core.data.shapes import make_shapes
from core.familiarity import store
from core.models.hooks import features_and_output, last_linear
from core.familiarity.errors import StaleBankError
from core.familiarity.features import SPLIT_CODES, extract_features
from core.familiarity.jobs import checkpoint_features, epoch_features
from core.familiarity.sources import bundle_sets
from tests.core.familiaritykit import tiny_model
from tests.support.unfamiliar import image_set, preprocess_for

SIZE = 24


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a CPU shared with other jobs, tiny models wait for cores more than they compute."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sets():
    images, labels = make_shapes(50, SIZE, seed=3)
    pre = preprocess_for(images)
    return [image_set("train", images[:30], labels[:30], pre), image_set("val", images[30:], labels[30:], pre)]


@pytest.mark.parametrize("name, options, width", [
    ("mlp", {"hidden": [32, 12]}, 12), ("cnn", {"channels": 4, "blocks": 2}, 8), ("resnet18", {}, 512),
])
def test_features_are_the_input_of_the_last_linear_and_the_logits_those_of_the_same_model(sets, name, options, width):
    model = tiny_model(name, options=options, size=SIZE)
    model.train()  # the pass must switch to eval mode itself, and switch back
    result = extract_features(model, sets, batch_size=16)
    assert model.training
    assert result.features.shape == (50, width) and last_linear(model)[1].in_features == width
    assert result.logits.shape == (50, 5) and result.features.dtype == np.float32
    inputs = torch.stack([sets[i // 30].dataset[i % 30][0] for i in range(50)])
    with torch.inference_mode():
        expected = tiny_model(name, options=options, size=SIZE).eval()(inputs)
    assert np.allclose(result.logits, expected.numpy(), atol=1e-4)  # the logits of the model, in dataset order
    head = last_linear(model)[1]
    assert np.allclose(torch.from_numpy(result.features) @ head.weight.detach().T + head.bias.detach(),
                       result.logits, atol=1e-4)  # the features ARE what the head turns into the logits
    assert result.ids[:2] == ["shapes:train/00000", "shapes:train/00001"] and result.ids[30] == "shapes:val/00000"
    assert (result.splits[:30] == SPLIT_CODES["train"]).all() and (result.splits[30:] == SPLIT_CODES["val"]).all()
    assert np.array_equal(result.labels, np.r_[sets[0].labels, sets[1].labels])


def test_the_cnn_features_are_its_pooled_last_block(sets):
    model = tiny_model("cnn", options={"channels": 4, "blocks": 2}, size=SIZE).eval()
    x = sets[1].dataset[0][0][None]
    with torch.inference_mode():
        features, logits = features_and_output(model, x)
        assert torch.allclose(features, model.pool(model.features(x)).flatten(1))
        assert torch.allclose(logits, model(x))


def test_progress_is_reported_per_batch_and_cancel_stops_between_batches(sets):
    model = tiny_model("cnn", options={"channels": 4, "blocks": 2}, size=SIZE)
    reports = []
    extract_features(model, sets, batch_size=8, progress=lambda d, t, m: reports.append((d, t)))
    assert reports[-1] == (50, 50) and len(reports) == 4 + 3  # 30 = 8+8+8+6, 20 = 8+8+4
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)
    seen = []
    with pytest.raises(Cancelled):
        extract_features(model, sets, batch_size=8, progress=lambda d, t, m: seen.append(d),
                         cancelled=lambda: len(seen) >= 2)
    assert seen == [8, 16]


def test_an_object_with_progress_and_cancelled_works_too(sets):
    class Task:
        calls = 0

        def progress(self, done, total, message):
            self.calls += 1

        def cancelled(self):
            return self.calls >= 1

    with pytest.raises(Cancelled):
        extract_features(tiny_model("mlp", options={"hidden": [8]}, size=SIZE), sets, batch_size=8, progress=Task())


def test_the_epoch_pass_sees_training_images_without_augmentation_and_is_kept_per_epoch(tmp_path):
    from core.data.transforms import Augmentation

    spec = DataSpec(name="shapes", train_count=40, val_count=20, image_size=SIZE, seed=2,
                    augmentation=Augmentation(horizontal_flip=True, rotation_degrees=30))
    bundle = build_data(spec)
    model = tiny_model("cnn", options={"channels": 4, "blocks": 2}, size=SIZE)
    first = epoch_features(model, bundle, tmp_path, 1)
    again = epoch_features(model, bundle, tmp_path, 2, max_images=30)
    assert first == store.epoch_features_path(tmp_path, 1) and first.parent.name == store.FEATURES_DIR
    loaded, classes, epoch = store.load_features(first)
    assert epoch == 1 and classes == bundle.classes and len(loaded) == 60
    assert loaded.ids[0] == "shapes:train/00000" and loaded.ids[40] == "shapes:val/00000"
    direct = extract_features(model, bundle_sets(bundle))  # unaugmented: the same numbers every time
    assert np.allclose(loaded.features, direct.features, atol=2e-2 * np.abs(direct.features).max())
    sampled, _, _ = store.load_features(again)
    assert len(sampled) == 30 and set(sampled.ids) <= set(loaded.ids)
    assert [e for e, _ in store.epoch_feature_files(tmp_path)] == [1, 2]


def test_a_checkpoints_features_are_kept_by_weights_checksum_and_never_used_for_other_weights(tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint

    data = build_data(DataSpec(name="shapes", train_count=40, val_count=20, image_size=SIZE, seed=4))
    from tests.core.familiaritykit import save_model_checkpoint

    model = tiny_model("cnn", options={"channels": 4, "blocks": 2}, size=SIZE)
    path = save_model_checkpoint(model, data.classes, data.preprocess, tmp_path / "best.pt",
                                 options={"channels": 4, "blocks": 2})
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": data.spec.to_dict()}  # says which data it was trained on
    save_checkpoint(ckpt, path)
    features, loaded = checkpoint_features(path)
    assert not store.features_dir(tmp_path).exists()  # not a run folder: nothing written beside a lone .pt
    (tmp_path / "config.json").write_text("{}")  # now it is one
    features, loaded = checkpoint_features(path)
    kept = store.checkpoint_features_path(tmp_path, loaded.checksum)
    assert kept.is_file() and len(features) == 60
    again, _ = checkpoint_features(path)
    assert np.array_equal(again.features, features.features) and np.array_equal(again.logits, features.logits)
    marked = features.subset(np.arange(len(features)))
    marked.features = marked.features * 2  # a kept pass that differs: it is read back, not recomputed
    store.save_features(kept, marked, data.classes, loaded.checksum)
    assert np.array_equal(checkpoint_features(path)[0].features, marked.features)
    kept.write_bytes(b"damaged")  # a damaged file is recomputed and replaced
    assert np.array_equal(checkpoint_features(path)[0].features, features.features)
    assert np.array_equal(store.load_features(kept, loaded.checksum)[0].features, features.features)
    with pytest.raises(StaleBankError):
        store.load_features(kept, "0" * 64)


def test_a_checkpoints_bank_is_built_beside_it_and_refused_once_the_checkpoint_changes(tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from core.familiarity.bank_file import bank_path
    from core.familiarity.jobs import bank_for_checkpoint, build_bank
    from tests.core.familiaritykit import save_model_checkpoint

    data = build_data(DataSpec(name="shapes", train_count=40, val_count=20, image_size=SIZE, seed=4))
    options = {"channels": 4, "blocks": 2}
    path = save_model_checkpoint(tiny_model("cnn", options=options, size=SIZE), data.classes, data.preprocess,
                                 tmp_path / "best.pt", options=options)
    ckpt = load_checkpoint(path)
    ckpt.training_state = {"data_spec": data.spec.to_dict()}
    save_checkpoint(ckpt, path)
    assert bank_for_checkpoint(path) is None  # no bank yet: familiarity unknown
    stages = []
    stored = build_bank(path, progress=lambda d, t, m: stages.append(m))
    assert stored == bank_path(path) == tmp_path / "best.familiarity.npz" and "features" in stages
    bank = bank_for_checkpoint(path, load_checkpoint(path).build_model())
    assert bank is not None and len(bank.ids) == 40 and bank.classes == data.classes
    assert bank.ids[0] == "shapes:train/00000" and bank.calibrated_on == "val"
    # The run goes on and best.pt is overwritten with new weights: the old bank must not be used.
    retrained = tiny_model("cnn", options=options, size=SIZE, seed=1)
    save_model_checkpoint(retrained, data.classes, data.preprocess, path, options=options)
    with pytest.raises(StaleBankError, match="other weights"):
        bank_for_checkpoint(path)
