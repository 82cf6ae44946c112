"""The learning-rate range test on small real models: the curve, the band, the files, and the exact restore."""
import csv
import json

import pytest
import torch
import torch.nn.functional as F

from core import catalog
from core.errors import Cancelled
from core.progress import Reporter
from core.data import DataSpec
from core.training.config import TrainConfig
from core.training.session import RunSettings
from core.tuning.lr import find_lr, run_lr_find
from core.tuning.lr.setup import build_setup
from core.tuning.lr.suggest import suggest_band


@pytest.fixture(autouse=True)
def one_thread():
    """Two OpenMP threads on a crowded 2-core machine run ten times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def settings(model="cnn", optimizer="adam", size=16, count=48, batch=8, **train):
    options = {"channels": 4, "blocks": 2} if model == "cnn" else {}
    return RunSettings(data=DataSpec(name="shapes", train_count=count, val_count=20, image_size=size, seed=2),
                       model_name=model, model_options=options,
                       train=TrainConfig(batch_size=batch, optimizer=optimizer, device="cpu", **train))


def _state(model, optimizer):
    return {k: v.clone() for k, v in model.state_dict().items()}, _copy(optimizer.state_dict())


def _copy(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _step(setup, batch, seed):
    torch.manual_seed(seed)  # the same dropout masks for both twins
    inputs, targets = batch
    loss = F.cross_entropy(setup.model(inputs), targets)
    setup.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    setup.optimizer.step()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_range_test_restores_weights_optimizer_and_randomness_exactly(optimizer):
    twin_a, twin_b = build_setup(settings(optimizer=optimizer)), build_setup(settings(optimizer=optimizer))
    batches = list(zip(range(4), twin_a.batches()))
    for setup in (twin_a, twin_b):  # some optimizer state first (Adam's moments, SGD's momentum buffers)
        for i, batch in batches[:3]:
            _step(setup, batch, seed=i)
    weights, optimizer_state = _state(twin_a.model, twin_a.optimizer)
    rng = torch.get_rng_state()
    result = find_lr(twin_a.model, twin_a.optimizer, twin_a.batches(), device=twin_a.device, steps=30)
    assert len(result.curve.lrs) >= 11  # it trained (and so changed the weights) before they were put back
    after_weights, after_optimizer = _state(twin_a.model, twin_a.optimizer)
    assert _same(weights, after_weights), "every weight and buffer (batch norm statistics) is back"
    assert _same(optimizer_state, after_optimizer), "the optimizer's state and its learning rates are back"
    assert torch.equal(torch.get_rng_state(), rng)
    assert twin_a.model.training
    # The restored pair trains on exactly as its twin that never ran the test.
    _step(twin_a, batches[3][1], seed=3)
    _step(twin_b, batches[3][1], seed=3)
    assert _same(_state(twin_a.model, twin_a.optimizer), _state(twin_b.model, twin_b.optimizer))


def test_curve_has_one_point_per_step_and_the_band_lies_inside_the_tried_range():
    seen = []
    result, files = run_lr_find(settings(count=96, batch=16), None, start_lr=1e-5, end_lr=1.0, steps=40,
                                progress=Reporter(lambda done, total, message: seen.append((done, total))))
    curve = result.curve
    n = len(curve.lrs)
    assert len(curve.losses) == len(curve.smoothed) == len(curve.trend) == n and seen == [(i, 40) for i in range(1, n + 1)]
    assert curve.lrs[0] == pytest.approx(1e-5) and all(b > a for a, b in zip(curve.lrs, curve.lrs[1:]))
    if curve.stop_reason == "finished":
        assert n == 40 and curve.lrs[-1] == pytest.approx(1.0)
    band = result.band
    assert curve.lrs[0] <= band.low <= band.high <= curve.lrs[-1]
    assert band.high / band.low >= 2.9  # a band, not one number
    for mark in (band.valley, band.steepest, band.minimum):
        assert curve.lrs[0] <= mark <= curve.lrs[-1]
    assert files == {}


def test_an_exploding_loss_stops_the_test_early():
    result, _ = run_lr_find(settings(optimizer="sgd", count=96, batch=16), None, start_lr=1e-3, end_lr=1e4,
                            steps=60)
    assert result.curve.stop_reason in ("exploded", "not finite")
    assert 11 <= len(result.curve.lrs) < 60
    assert result.band.high <= result.curve.lrs[-1]


def test_band_follows_a_clean_curve():
    """A synthetic curve: flat, a descent from 1e-4 to a minimum at 1e-2, then a blow-up."""
    import numpy as np

    lrs = np.geomspace(1e-7, 10, 100)
    x = np.log10(lrs)
    loss = 2.0 - 1.2 / (1 + np.exp(-(x + 3) * 3))  # falls around 1e-3
    loss = np.where(x > -2, loss[np.searchsorted(x, -2)] + (x + 2) ** 2, loss)  # rises past 1e-2
    band = suggest_band(lrs, loss)
    assert 5e-3 <= band.minimum <= 2e-2
    assert 5e-4 <= band.steepest <= 2e-3  # the middle of the sigmoid's fall
    assert band.low <= band.steepest <= band.minimum <= band.high <= 2e-2  # up to the end of the bottom only
    assert band.contains(2e-3) and not band.contains(1e-4)
    assert band.note == ""
    flat = suggest_band(lrs, np.full(100, 1.6) + 1e-4 * np.sin(np.arange(100)))
    assert "hardly fell" in flat.note


def test_files_csv_json_and_png(tmp_path):
    result, files = run_lr_find(settings(), tmp_path / "out", start_lr=1e-4, end_lr=1.0, steps=12)
    rows = list(csv.DictReader(files["csv"].open()))
    assert [int(r["step"]) for r in rows] == list(range(1, len(result.curve.lrs) + 1))
    assert float(rows[0]["lr"]) == pytest.approx(1e-4)
    summary = json.loads(files["json"].read_text())
    assert summary["band"] == {"low": result.band.low, "high": result.band.high}
    assert summary["tried"]["steps_done"] == len(rows) and summary["settings"]["optimizer"] == "adam"
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left


def _model_optimizer_pairs():
    """Every optimizer on the small models; each torchvision model (seconds per step on a CPU) with one of them."""
    names = catalog.OPTIMIZER.names
    for i, model in enumerate(catalog.MODEL_NAMES):
        for optimizer in (names if model not in catalog.TORCHVISION_MODELS else [names[i % len(names)]]):
            yield model, optimizer


@pytest.mark.parametrize("model,optimizer", list(_model_optimizer_pairs()))
def test_every_model_and_optimizer_of_the_catalogue(model, optimizer):
    size = 32 if model in catalog.TORCHVISION_MODELS else 16
    result, _ = run_lr_find(settings(model, optimizer, size=size, count=4, batch=2), None, steps=5)
    assert len(result.curve.lrs) == 5


def test_fine_tuning_groups_keep_their_ratio_during_the_test():
    setup = build_setup(settings(backbone_lr_scale=0.1, lr=0.01))
    ratios = []

    def watch(done, total, message):
        groups = setup.optimizer.param_groups
        ratios.append(groups[0]["lr"] / groups[-1]["lr"])

    find_lr(setup.model, setup.optimizer, setup.batches(), device=setup.device, steps=8, progress=Reporter(watch))
    assert len(setup.optimizer.param_groups) == 2 and ratios == pytest.approx([0.1] * 8)
    assert [g["lr"] for g in setup.optimizer.param_groups] == pytest.approx([0.001, 0.01])


def test_cancel_stops_the_test_and_still_restores():
    setup = build_setup(settings())
    weights, _ = _state(setup.model, setup.optimizer)
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        find_lr(setup.model, setup.optimizer, setup.batches(), device=setup.device, steps=20,
                progress=Reporter(cancel=cancelled))
    assert _same(weights, _state(setup.model, setup.optimizer)[0])


def test_a_bad_range_is_refused_before_any_data_is_built():
    with pytest.raises(ValueError, match="must grow"):
        run_lr_find(settings(), None, start_lr=1.0, end_lr=1e-3)
    with pytest.raises(ValueError, match="steps"):
        run_lr_find(settings(), None, steps=2)
