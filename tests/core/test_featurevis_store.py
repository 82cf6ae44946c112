"""Pictures on disk: the cache per checkpoint (reused for the same weights and settings, never for others,
damaged files ignored), the CLI's output folder, the per-epoch pictures, and the Dossier's top images as the
real reference."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.checkpoints.schema import weights_checksum
from core.dossier.topk import compute_topk
from core.featurevis import sanity
from core.featurevis.epochs import load_epoch, saved_epochs, visualize_epoch
from core.featurevis.optimize import VisSettings
from core.featurevis.store import PICTURES_FILE, SANITY_FILE, StoreError, cache_folder, load_result
from core.featurevis.visualize import visualize_units
from core.progress import Reporter
from tests.core import featurevis_kit as kit

QUICK = VisSettings(steps=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    images, labels = kit.draw_images(20, 24, seed=2)
    pre = kit.preprocess_for(images)
    data = kit.dataset(images, labels, pre)
    model, spec = kit.train("cnn", data, 3, 24, epochs=1, options={"blocks": 2, "channels": 4})
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    save_checkpoint(checkpoint_from_model(model, spec, kit.CLASSES, pre), path)
    return path, model, pre, data


def test_the_cache_serves_the_same_weights_and_settings_and_nothing_else(trained, tmp_path):
    path, model, pre, data = trained
    cache = tmp_path / "featurevis"
    first = visualize_units(path, "features.0", "0-3", cache_root=cache, dataset=data, settings=QUICK)
    assert first.cached_units == [] and first.real_source.startswith("the given images")
    steps = []
    again = visualize_units(path, "features.0", "1-2", cache_root=cache, dataset=data, settings=QUICK,
                            progress=Reporter(lambda done, total, message: steps.append(message)))
    assert again.cached_units == [1, 2] and not any(m.startswith("step") for m in steps)
    assert np.array_equal(again.picture(1).image, first.picture(1).image)
    assert again.picture(2).ratio == pytest.approx(first.picture(2).ratio)
    other = visualize_units(path, "features.0", "1", cache_root=cache, dataset=data, settings=VisSettings(steps=9))
    assert other.cached_units == []  # other settings: other pictures
    assert (cache / weights_checksum(torch.load(path, weights_only=True)["model_state"])).is_dir()


def test_pictures_of_other_weights_are_never_used(trained, tmp_path):
    path, model, pre, data = trained
    cache = tmp_path / "featurevis"
    result = visualize_units(path, "features.0", "0", cache_root=cache, real_images=0, settings=QUICK)
    folder = cache_folder(cache, result.weights_checksum, "features.0", result.settings_key)
    expect = {"weights_checksum": "0" * 64, "layer": "features.0", "settings_key": result.settings_key}
    assert load_result(folder, expect) is None  # same folder, other weights in the request: stale, unused
    with np.load(folder / PICTURES_FILE, allow_pickle=False) as npz:  # a file copied under another checksum
        header = json.loads(bytes(npz["header"]).decode())
        images = npz["images"]
    header["weights_checksum"] = "f" * 64
    buffer = io.BytesIO()
    np.savez(buffer, images=images, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    (folder / PICTURES_FILE).write_bytes(buffer.getvalue())
    again = visualize_units(path, "features.0", "0", cache_root=cache, real_images=0, settings=QUICK)
    assert again.cached_units == []


def test_a_damaged_or_pickled_cache_file_is_ignored_with_a_note(trained, tmp_path):
    path, model, pre, data = trained
    cache = tmp_path / "featurevis"
    result = visualize_units(path, "features.0", "0", cache_root=cache, real_images=0, settings=QUICK)
    folder = cache_folder(cache, result.weights_checksum, "features.0", result.settings_key)
    buffer = io.BytesIO()
    np.savez(buffer, images=np.array([object()], dtype=object), header=np.zeros(3, np.uint8))
    (folder / PICTURES_FILE).write_bytes(buffer.getvalue())
    with pytest.raises(StoreError):
        load_result(folder)
    again = visualize_units(path, "features.0", "0", cache_root=cache, real_images=0, settings=QUICK)
    assert again.cached_units == [] and any("damaged cache" in n for n in again.notes)
    assert load_result(folder) is not None  # rewritten
    (folder / PICTURES_FILE).write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(StoreError):
        load_result(folder)


def test_the_output_folder_gets_pngs_and_the_sanity_numbers(trained, tmp_path):
    path, model, pre, data = trained
    result = visualize_units(path, class_="square", out_dir=tmp_path, dataset=data, settings=QUICK)
    folder = tmp_path / "output"
    assert (folder / "class-001-square.png").is_file() and (folder / "mosaic.png").is_file()
    numbers = json.loads((folder / SANITY_FILE).read_text())
    assert numbers["weights_checksum"] == result.weights_checksum
    [unit] = numbers["units"]
    assert unit["label"] == "square" and unit["predicted_class"] in kit.CLASSES
    assert unit["real_activation"] is not None and unit["real_index"] is not None


def test_the_dossiers_top_images_are_the_same_reference_as_a_pass_over_the_data(trained):
    path, model, pre, data = trained
    topk = compute_topk(model, data, k=3, classes=list(kit.CLASSES))
    from_dossier = sanity.real_top_from_dossier(topk, "features.4", [0, 1, 2])
    from_pass = sanity.real_top_from_dataset(model, data, "features.4", [0, 1, 2], source="x", max_images=len(data))
    for unit in (0, 1, 2):
        assert from_dossier.values[unit] == pytest.approx(from_pass.values[unit], rel=1e-5)
        assert from_dossier.indices[unit] == from_pass.indices[unit]
    head = "classifier.2"  # ranked by log-probability in the Dossier: not comparable, so not used
    assert sanity.real_top_from_dossier(topk, head, [0]) is None


def test_each_epoch_keeps_its_first_layer_pictures(trained, tmp_path):
    path, model, pre, data = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for epoch in (1, 2):
        result = visualize_epoch(model, pre, tmp_path, epoch, settings=QUICK)
        assert result.layer == "features.0" and len(result.pictures) == 4
    assert saved_epochs(tmp_path) == [1, 2]
    loaded = load_epoch(tmp_path, 2)
    assert loaded.units == [0, 1, 2, 3] and loaded.pictures[0].weight_correlation is not None
    assert load_epoch(tmp_path, 3) is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
