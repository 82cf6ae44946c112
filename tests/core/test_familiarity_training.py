"""Familiarity during a real short run: --embed-every keeps the map's features per epoch (the map replays
them, aligned) and --familiarity stores best.pt's bank at the end, so predict scores new images at once."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli.main import main


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("familiarity_run") / "run"
    assert main(["train", "--shapes-count", "120", "--image-size", "16", "--epochs", "2", "--model", "cnn",
                 "--option", "channels=4", "--option", "blocks=2", "--batch-size", "16", "--embed-every", "1",
                 "--familiarity", "--out", str(out), "--quiet"]) == 0
    return out


def test_the_run_keeps_each_epochs_features_and_the_map_replays_them(run):
    from core.datamap.replay import replay_run
    from core.runs.layout import RunLayout

    layout = RunLayout(run)
    assert layout.epoch_features(1).is_file() and layout.epoch_features(2).is_file()
    maps, skipped = replay_run(run, "pca")
    assert [m.epoch for m in maps] == [1, 2] and not skipped
    assert maps[0].points.shape == maps[1].points.shape and np.isfinite(maps[1].points).all()


def test_best_pt_has_its_bank_when_the_run_ends_and_predict_uses_it(run, tmp_path, capsys):
    from core.familiarity.jobs import bank_for_checkpoint

    best = run / "best.pt"
    assert (run / "best.familiarity.npz").is_file() and (run / "last.familiarity.npz").is_file()
    bank = bank_for_checkpoint(best)
    assert bank is not None and bank.views  # the cnn's block views are in it
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(image)
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(best), "--json", str(image)]) == 0
    familiarity = json.loads(capsys.readouterr().out)["familiarity"]
    assert familiarity is not None and len(familiarity["nearest"]) == 5


def test_both_settings_are_off_by_default_and_offered_by_the_catalogue():
    from core import catalog
    from core.training.config import TrainConfig

    config = TrainConfig()
    assert config.embed_every == 0 and config.familiarity_at_end is False
    keys = {o.key: o for o in catalog.TRAIN_OPTIONS}
    assert keys["embed_every"].cli_flag == "--embed-every" and keys["familiarity_at_end"].cli_flag == "--familiarity"
