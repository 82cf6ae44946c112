"""Training memory estimate: counts, activation measurement, fit / no-fit against the free memory."""
import pytest
import torch.nn as nn

import core.models.memory as memory
from core.models import ModelSpec, build_model
from core.models.memory import activation_bytes_per_image, available_memory_mb, model_memory


def test_counts_and_activations_of_a_known_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 2))
    assert activation_bytes_per_image(model, (3, 2, 2)) == (12 + 10 + 10 + 2) * 4
    est = model_memory(model, (3, 2, 2), batch_size=8)
    assert est.params == 12 * 10 + 10 + 10 * 2 + 2 == est.trainable
    assert est.size_mb == pytest.approx(est.params * 4 / 2**20, abs=0.01)


def test_frozen_parameters_are_not_trainable():
    model = build_model(ModelSpec("resnet18", 2, 3, 32, {"freeze_backbone": True}))
    est = model_memory(model, (3, 32, 32), batch_size=4)
    assert est.trainable == 512 * 2 + 2 and est.params > 11_000_000


def test_total_grows_with_batch_size_and_hooks_are_removed():
    model = build_model(ModelSpec("cnn", 3, 3, 32))
    small = model_memory(model, (3, 32, 32), 1)
    big = model_memory(model, (3, 32, 32), 101)
    assert big.total_mb > small.total_mb
    assert big.total_mb - small.total_mb == pytest.approx(100 * big.activations_mb_per_image * memory.OVERHEAD, rel=0.02)
    assert all(not m._forward_hooks for m in model.modules())


def test_fits_and_warning(monkeypatch):
    model = build_model(ModelSpec("cnn", 3, 3, 64))
    monkeypatch.setattr(memory, "available_memory_mb", lambda device="cpu": 1e6)
    ok = model_memory(model, (3, 64, 64), 16)
    assert ok.fits is True and ok.warning is None
    monkeypatch.setattr(memory, "available_memory_mb", lambda device="cpu": ok.total_mb / 4)
    tight = model_memory(model, (3, 64, 64), 16)
    assert tight.fits is False
    assert "only" in tight.warning and "batch size of about" in tight.warning
    suggested = int(tight.warning.split("batch size of about ")[1].split()[0])
    assert 1 <= suggested < 16
    assert model_memory(model, (3, 64, 64), suggested).fits  # the advice fits
    monkeypatch.setattr(memory, "available_memory_mb", lambda device="cpu": None)
    unknown = model_memory(model, (3, 64, 64), 16)
    assert unknown.fits is None and unknown.warning is None and unknown.to_dict()["warning"] is None


def test_system_memory_is_read():
    free = available_memory_mb("cpu")
    assert free is None or free > 0
