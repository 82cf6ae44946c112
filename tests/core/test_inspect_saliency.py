"""Saliency through Captum: a trained shapes CNN looks at the shape, and no method leaves the model changed."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data import DataSpec, build_data
from core.data.shapes import make_shapes
from core.inspect import (SaliencyUnavailable, default_cam_layer, grad_cam, integrated_gradients, overlay,
                          saliency_map)
from core.models import ModelSpec, build_model
from core.training.config import TrainConfig
from core.training.runtime import seed_everything
from core.training.trainer import Trainer

SIZE, TRAIN, VAL, SEED = 64, 4000, 60, 5


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module: on a CPU shared with other jobs, torch's intra-op pool spends more
    time waiting for cores than computing for models this small (minutes instead of seconds)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained_cnn():
    """A shapes CNN trained for 3 short epochs (about 75% validation accuracy), its validation set, and the
    shape masks of exactly those validation images."""
    data = build_data(DataSpec("shapes", image_size=SIZE, train_count=TRAIN, val_count=VAL, seed=SEED))
    spec = ModelSpec("cnn", data.num_classes, 3, SIZE)
    seed_everything(0)
    model = build_model(spec)
    Trainer(model, data, TrainConfig(epochs=3, batch_size=16, lr=1e-3, device="cpu", seed=0), spec).fit()
    # build_data draws TRAIN + VAL images with one generator and keeps the last VAL for validation; drawing
    # masks does not consume random numbers, so the same call with masks gives the same images.
    images, labels, masks = make_shapes(TRAIN + VAL, SIZE, SEED, with_masks=True)
    val_masks, val_labels = masks[TRAIN:], labels[TRAIN:]
    assert [int(data.val[i][1]) for i in range(VAL)] == val_labels.tolist()
    return model.eval(), data.val, val_labels, val_masks


def _fraction_looking_at_the_shape(method, trained_cnn, count: int = VAL) -> float:
    model, val, labels, masks = trained_cnn
    hits = 0
    for i in range(count):
        heat = method(model, val[i][0][None], int(labels[i]))
        assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
        assert 0.0 <= heat.min() and heat.max() <= 1.0
        hits += heat[masks[i]].mean() > heat[~masks[i]].mean()
    return hits / count


def test_grad_cam_of_a_trained_cnn_looks_at_the_shape(trained_cnn):
    # Grad-CAM works at the last conv layer's 8x8 grid, so its map is coarse; "most images" is the claim.
    assert _fraction_looking_at_the_shape(grad_cam, trained_cnn) > 0.6


def test_gradient_saliency_of_a_trained_cnn_looks_at_the_shape(trained_cnn):
    assert _fraction_looking_at_the_shape(saliency_map, trained_cnn) > 0.8


def test_integrated_gradients_of_a_trained_cnn_looks_at_the_shape(trained_cnn):
    ig = lambda m, x, t: integrated_gradients(m, x, t, steps=8)  # noqa: E731
    assert _fraction_looking_at_the_shape(ig, trained_cnn, count=20) > 0.7


def test_the_target_class_matters(trained_cnn):
    model, val, labels, _ = trained_cnn
    x = val[0][0][None]
    maps = [grad_cam(model, x, t) for t in range(5)]
    assert any(not np.allclose(maps[0], m) for m in maps[1:])
    with pytest.raises(ValueError, match="target class 9"):
        grad_cam(model, x, 9)


# ---- the model is left as it was -----------------------------------------------------------------------

def _snapshot(model):
    return ({k: v.clone() for k, v in model.state_dict().items()}, model.training,
            [getattr(m, "inplace", None) for m in model.modules()])


def _assert_unchanged(model, snapshot):
    state, training, inplace = snapshot
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert model.training == training
    assert [getattr(m, "inplace", None) for m in model.modules()] == inplace
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks
               for m in model.modules())


@pytest.mark.parametrize("name", ["cnn", "resnet18"])
def test_every_method_on_an_untrained_model_in_train_mode_with_an_inference_tensor(name):
    torch.manual_seed(0)
    model = build_model(ModelSpec(name, 3, 3, 64)).train()
    with torch.inference_mode():
        x = torch.randn(1, 3, 64, 64)  # as Predictor.to_input would hand it over inside the inspector
    before = _snapshot(model)
    assert default_cam_layer(model) == ("features.12" if name == "cnn" else "layer4.1.conv2")
    for heat in (grad_cam(model, x, 1), saliency_map(model, x, 1), integrated_gradients(model, x, 1, steps=4)):
        assert heat.shape == (64, 64) and heat.dtype == np.float32 and np.isfinite(heat).all()
        assert heat.max() == pytest.approx(1.0)
    _assert_unchanged(model, before)
    if name == "resnet18":
        assert model.relu.inplace  # torchvision's in-place ReLUs are switched back on


def test_grad_cam_on_a_named_layer_and_bad_names():
    model = build_model(ModelSpec("cnn", 3, 3, 32))
    x = torch.randn(1, 3, 32, 32)
    assert grad_cam(model, x, 0, "features.0").shape == (32, 32)
    with pytest.raises(KeyError, match="nope"):
        grad_cam(model, x, 0, "nope")
    with pytest.raises(SaliencyUnavailable):
        grad_cam(model, x, 0, "classifier.2")  # a Linear layer has no feature maps


def test_mlp_has_no_grad_cam_but_gradients_work():
    model = build_model(ModelSpec("mlp", 3, 3, 16))
    x = torch.randn(1, 3, 16, 16)
    before = _snapshot(model)
    assert default_cam_layer(model) is None
    with pytest.raises(SaliencyUnavailable, match="convolutional"):
        grad_cam(model, x, 0)
    assert saliency_map(model, x, 2).shape == (16, 16)
    assert integrated_gradients(model, x, 2, steps=4).shape == (16, 16)
    _assert_unchanged(model, before)


def test_overlay():
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200
    heat = np.linspace(0, 1, 10 * 15, dtype=np.float32).reshape(10, 15)  # half size: gets resized
    out = overlay(rgb, heat, alpha=0.5)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert np.array_equal(overlay(rgb, heat, alpha=0.0), rgb)
    full = overlay(rgb, heat, alpha=1.0)
    assert not np.array_equal(full[0, 0], full[-1, -1])  # cold corner and hot corner differ
