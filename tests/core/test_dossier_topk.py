"""The running top-K per channel: exact against a brute-force ranking, bounded, cancellable, and right on a
trained model (the output unit of class c ranks images of class c first)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from core.errors import Cancelled
from core.progress import Reporter
from core.dossier.receptive import measure_receptive_fields
from core.dossier.store import load_topk, save_topk
from core.dossier.topk import TopKTracker, compute_topk


def _tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3))


def _data(n=37, size=12):
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 3, size, size, generator=g), torch.arange(n) % 3)


def test_running_topk_matches_brute_force_ranking():
    model, data = _tiny_model(), _data()
    result = compute_topk(model, data, k=4, classes=["a", "b", "c"], batch_size=5)
    with torch.inference_mode():
        conv = model[0](data.tensors[0])  # [N, 4, H, W]
        out = model(data.tensors[0])
    best = conv.flatten(2).max(2).values  # [N, 4]
    layer = result.layers["0"]
    assert layer.values.shape == (4, 4) and result.images == 37
    for c in range(4):
        expected = torch.argsort(best[:, c], descending=True)[:4].numpy()
        assert list(layer.indices[c]) == list(expected)
        y, x = layer.locations[c, 0]
        assert conv[expected[0], c, y, x] == pytest.approx(float(layer.values[c, 0]), rel=1e-5)
    head = result.layers["7"]  # the output layer (one unit per class) is ranked by log-probability
    assert head.ranked_by == "log_probability" and result.layers["0"].ranked_by == "activation"
    log_prob = out.log_softmax(1)
    assert list(head.indices[2]) == list(torch.argsort(log_prob[:, 2], descending=True)[:4].numpy())
    labels = data.tensors[1]
    assert head.class_mean[1, 0] == pytest.approx(float(log_prob[labels == 0, 1].mean()), rel=1e-4)


def test_state_is_k_by_channels_whatever_the_dataset_size():
    model = _tiny_model()
    tracker = TopKTracker(k=3).attach(model)
    with torch.inference_mode():
        for _ in range(6):
            model(torch.randn(16, 3, 12, 12))
    tracker.detach()
    result = tracker.result()
    assert result.images == 96
    assert {name: layer.values.shape for name, layer in result.layers.items()} == {"0": (4, 3), "3": (5, 3), "7": (3, 3)}
    assert len(model._forward_hooks) == 0 and len(model._forward_pre_hooks) == 0


def test_cancel_stops_the_pass_and_removes_hooks():
    model = _tiny_model()
    with pytest.raises(Cancelled):
        compute_topk(model, _data(), batch_size=4, progress=Reporter(cancel=lambda: True))
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_unknown_or_unhookable_layers_are_named():
    tracker = TopKTracker(layer_names=["1", "0"]).attach(_tiny_model())
    assert "1" in tracker.skipped and "ReLU" in tracker.skipped["1"]
    tracker.detach()


def test_receptive_field_of_a_chain():
    model = _tiny_model()
    modules = dict(model.named_modules())
    fields = measure_receptive_fields(model, {"0": modules["0"], "3": modules["3"]}, (3, 16, 16))
    assert (fields["0"].height, fields["0"].stride_y) == (3, 1.0)
    # conv3 -> pool2 -> conv3: 3 + 1 + 2*2 = 8 pixels, stride 2
    assert (fields["3"].height, fields["3"].width, fields["3"].stride_y) == (8, 8, 2.0)


def test_save_and_load_round_trip(tmp_path):
    result = compute_topk(_tiny_model(), _data(), k=2, classes=["a", "b", "c"], input_shape=(3, 12, 12))
    path = save_topk(result, tmp_path / "dossier" / "topk.npz", files=[f"f{i}" for i in range(37)])
    loaded, header = load_topk(path)
    assert header["files"][3] == "f3"
    for name, layer in result.layers.items():
        np.testing.assert_array_equal(loaded.layers[name].indices, layer.indices)
        assert loaded.layers[name].receptive_field == layer.receptive_field


def test_cli_dossier_output_unit_ranks_its_own_class_first(tmp_path):
    from core.cli.main import main
    from tests.core.dossierkit import train_learnable_run, write_learnable_folder

    run, trainer = train_learnable_run(tmp_path / "run", write_learnable_folder(tmp_path / "train"))
    assert trainer.history[-1].val_acc > 0.8  # it has learned the data
    folder = write_learnable_folder(tmp_path / "folder", per_class=12, seed=5)
    out = tmp_path / "dossier"
    assert main(["dossier", "--checkpoint", str(run / "best.pt"), "--dataset", str(folder), "--out", str(out)]) == 0
    head = json.loads(sorted(out.glob("*classifier.2.json"))[0].read_text())
    classes = head["classes"]
    for c, name in enumerate(classes):
        top = [e for e in head["top"] if e["channel"] == c]
        assert len(top) == 9
        assert all(e["image"].endswith(".png") for e in top)
        share = sum(e["label"] == name for e in top) / len(top)
        assert share > 0.5, (name, [e["label"] for e in top])
    assert sorted(p.suffix for p in out.iterdir()).count(".png") == len(list(out.glob("*.json")))
    assert (out / "topk.npz").exists()


def test_cli_dossier_lists_unreadable_images_and_goes_on(tmp_path, capsys):
    from core.cli.main import main
    from tests.core.dossierkit import train_learnable_run, write_learnable_folder

    folder = write_learnable_folder(tmp_path / "data", per_class=8)
    run, _ = train_learnable_run(tmp_path / "run", folder, epochs=1)
    (folder / "circle" / "broken.png").write_bytes(b"\x89PNG not really")
    code = main(["dossier", "--checkpoint", str(run / "last.pt"), "--dataset", str(folder), "--out", str(tmp_path / "o")])
    assert code == 1 and "broken.png" in capsys.readouterr().err
    assert (tmp_path / "o" / "topk.npz").exists()


def test_a_run_without_a_dossier_is_computed_on_demand_then_read(tmp_path):
    from core.dossier.run_dossier import channel_map, open_run_dossier
    from tests.core.dossierkit import train_learnable_run, write_learnable_folder

    run, _ = train_learnable_run(tmp_path / "run", write_learnable_folder(tmp_path / "data", per_class=8), epochs=1)
    first = open_run_dossier(run)
    assert first.computed and (run / "dossier" / "topk.npz").exists()
    again = open_run_dossier(run)
    assert not again.computed
    layer = again.result.layers["features.0"]
    index = int(layer.indices[0, 0])
    assert again.image_of(index).shape == (32, 32, 3)
    heat = channel_map(again.model, again.input_of(index), "features.0", 0)
    assert heat.shape == (32, 32) and heat.max() == 1.0
    y, x = layer.locations[0, 0]
    assert heat[y, x] == 1.0  # the strongest unit is where the map peaks (same size: stride 1)


def test_a_scripted_model_is_reported_not_crashed():
    scripted = torch.jit.script(_tiny_model())
    result = compute_topk(scripted, _data(8), k=2)
    assert result.layers == {} and "(model)" in result.skipped
