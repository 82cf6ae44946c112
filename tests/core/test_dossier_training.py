"""The dossier while a run trains: top-K kept at each validation pass, layer health every N steps."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.dossier.health import read_health
from core.runs.layout import LAYER_HEALTH as HEALTH_FILE
from core.dossier.health_checks import HealthWarnings
from core.dossier.store import load_topk, topk_path
from tests.core.dossierkit import train_learnable_run, write_learnable_folder


def test_topk_kept_during_validation_matches_an_on_demand_pass(tmp_path):
    from core.checkpoints.checkpoint import load_checkpoint
    from core.dossier.topk import compute_topk

    folder = write_learnable_folder(tmp_path / "data", per_class=12)
    run, trainer = train_learnable_run(tmp_path / "run", folder, epochs=2, dossier_topk=True)
    result, header = load_topk(topk_path(run))
    assert header["epoch"] == 2 and header["split"] == "val"
    assert len(header["files"]) == len(trainer.data.val) and header["files"][0].endswith(".png")
    on_demand = compute_topk(load_checkpoint(run / "last.pt").build_model(), trainer.data.val, k=result.k,
                             classes=list(trainer.data.classes))
    for name, layer in on_demand.layers.items():
        np.testing.assert_array_equal(result.layers[name].indices, layer.indices)
    head = result.layers["classifier.2"]
    assert head.class_mean.shape == (3, 3) and result.layers["features.0"].receptive_field.height == 3
    assert all(len(m._forward_hooks) == 0 for m in trainer.model.modules())


def test_layer_health_every_n_steps_writes_bounded_records(tmp_path):
    folder = write_learnable_folder(tmp_path / "data", per_class=12)
    run, trainer = train_learnable_run(tmp_path / "run", folder, epochs=2, layer_health_every=2)
    samples, _ = read_health(run)
    steps = [s["step"] for s in samples]
    assert steps and all(s % 2 == 0 for s in steps) and steps == sorted(steps)
    conv = samples[-1]["layers"]["features.0"]
    assert conv["weight_norm"] > 0 and conv["grad_norm"] > 0 and 0 < conv["update_ratio"] < 1
    assert sum(conv["weight_hist"]["counts"]) == 3 * 8 * 9  # every weight once (batch norm: no conv bias)
    relu = samples[-1]["layers"]["features.2"]  # conv, batch norm, ReLU, pool
    assert 0.0 <= relu["dead_share"] <= 1.0 and len(relu["activation_hist"]["counts"]) == 24
    assert all(len(m._forward_hooks) == 0 for m in trainer.model.modules())
    json.loads((run / HEALTH_FILE).read_text().splitlines()[0])


def test_health_interval_doubles_to_bound_the_file(tmp_path):
    from core.dossier.health import LayerHealth

    class FakeTrainer:
        def __init__(self):
            self.model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            self.step, self.epoch = 0, 0

    t, health = FakeTrainer(), LayerHealth(tmp_path, every=1, max_samples=4)
    health.on_fit_start(t, None)  # t stands for the RunView: model, step, epoch
    for _ in range(30):
        t.opt.zero_grad()
        t.model(torch.randn(8, 4)).sum().backward()
        t.opt.step()
        t.step += 1
        health.on_train_step(t)
    assert health.error is None and health.every > 1
    assert health.samples < 30


def test_warnings_name_the_layer_and_need_persistence():
    checks = HealthWarnings(persist=2)
    bad = {"conv1": {"weight_norm": 1.0, "grad_norm": 0.1, "update_ratio": 0.5, "dead_share": 0.9},
           "fc": {"weight_norm": 1.0, "grad_norm": 0.1, "update_ratio": 1e-3}}
    assert checks.feed(bad) == []
    found = checks.feed(bad)
    assert {(w["layer"], w["problem"]) for w in found} == {("conv1", "lr_high"), ("conv1", "dead")}
    assert all("conv1" in w["message"] for w in found)
    assert checks.feed(bad) == []  # once per layer and kind
    nan = checks.feed({"fc": {"weight_norm": 1.0, "grad_norm": float("nan")}})
    assert nan[0]["problem"] == "exploding"  # non-finite gradients do not wait


def test_probe_timeline_keeps_snapshots_and_lists_unreadable_probes(tmp_path):
    from core.dossier.probes import SALIENCY_PX, read_probes

    folder = write_learnable_folder(tmp_path / "data", per_class=12)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    probes = [str(folder / "circle" / "circle_000.png"), str(folder / "square" / "square_001.png"), str(bad)]
    run, trainer = train_learnable_run(tmp_path / "run", folder, epochs=2, probe_images=probes)
    index, snapshots = read_probes(run)
    assert index["files"] == probes[:2] and index["skipped"][0]["file"] == str(bad)
    epochs = [s["epoch"] for s in snapshots]
    assert epochs[0] == 0.0 and epochs[-2:] == [1.0, 2.0] and any(0 < e < 1 for e in epochs)
    first = snapshots[-1]["probes"][0]
    assert first["saliency"].shape == (SALIENCY_PX, SALIENCY_PX) and first["saliency"].max() > 0
    assert set(first["layers"]) >= {"features.0", "classifier.2"} and 0 <= first["true_prob"] <= 1
    assert first["top"][0][0] == first["predicted"]
    # it learned: the true class's probability rose from the start to the end
    assert snapshots[-1]["probes"][0]["true_prob"] > snapshots[0]["probes"][0]["true_prob"]


def test_a_probe_without_a_true_class_keeps_every_class_and_takes_a_named_one(tmp_path):
    """A probe outside the class folders (--probe photo.jpg, "Pin as probe") records every class's
    probability over the run, and the true class the user names later is kept beside the timeline."""
    import shutil

    from core.dossier.probe_reading import class_probabilities, classes_to_show, name_true_class, read_probes

    folder = write_learnable_folder(tmp_path / "data", per_class=12)
    loose = tmp_path / "loose.png"
    shutil.copy(folder / "square" / "square_002.png", loose)
    run, trainer = train_learnable_run(tmp_path / "run", folder, epochs=2, probe_images=[str(loose)])
    index, snapshots = read_probes(run)
    classes = index["classes"]
    assert index["true"] == [None] and snapshots[-1]["probes"][0]["true_prob"] is None
    probs = class_probabilities(snapshots, 0, classes)
    assert probs.shape == (len(snapshots), 3) and not np.isnan(probs).any()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert classes_to_show(probs, classes, None, most=2) == list(np.argsort(-probs.max(axis=0))[:2])
    name_true_class(run, str(loose), "square")
    index, _ = read_probes(run)
    assert index["true"] == ["square"]
    assert classes.index("square") in classes_to_show(probs, classes, "square", most=1)
    name_true_class(run, str(loose), None)
    assert read_probes(run)[0]["true"] == [None]

    # The run folder may be shared: a names file that is not what the app writes is ignored (the probes still
    # read), and one planted as a link is never written through.
    from core.io.atomic import LinkRefused
    from core.runs.layout import PROBES_TRUE_CLASSES, RunLayout

    names = RunLayout(run).probes / PROBES_TRUE_CLASSES
    names.write_text("[" * 5000)
    assert read_probes(run)[0]["true"] == [None] and len(read_probes(run)[1]) == len(snapshots)
    names.unlink()
    outside = tmp_path / "outside.json"
    outside.write_text("kept")
    names.symlink_to(outside)
    with pytest.raises(LinkRefused):
        name_true_class(run, str(loose), "square")
    assert outside.read_text() == "kept"


def test_cli_train_prints_layer_health_warnings_as_they_come(tmp_path, capsys):
    from core.cli.main import main

    folder = write_learnable_folder(tmp_path / "data", per_class=8)
    # A learning rate of 1.0 with SGD makes every layer's update far above 1e-3 of its weights.
    code = main(["train", "--dataset", str(folder), "--model", "cnn", "--option", "channels=4", "--option", "blocks=1",
                 "--epochs", "1", "--batch-size", "4", "--lr", "1.0", "--optimizer", "sgd", "--image-size", "32",
                 "--layer-health-every", "1", "--out", str(tmp_path / "run"), "--quiet", "--no-amp"])
    out = capsys.readouterr().out
    assert "layer health, step" in out and "learning rate is probably too high" in out, out
    assert code in (0, 2)  # it may diverge; the warnings came first
