"""Activation capture: one output per layer, right shapes, hooks always gone, model left as it was."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from core.inspect import capture_activations, forward_with_activations, list_layers
from core.models import ModelSpec, build_model


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name,size", [("mlp", 32), ("cnn", 32), ("resnet18", 64)])
def test_one_activation_per_leaf_layer_with_summary_shapes(name, size):
    torch.manual_seed(0)
    model = build_model(ModelSpec(name, 4, 3, size)).train()
    acts = capture_activations(model, torch.randn(2, 3, size, size))
    layers = list_layers(model, (3, size, size))
    assert list(acts) == [l.name for l in layers]  # execution order, every leaf layer
    for layer in layers:
        assert tuple(acts[layer.name].shape) == layer.output_shape, layer.name
        assert acts[layer.name].device.type == "cpu" and not acts[layer.name].requires_grad
    assert model.training  # mode restored
    assert _no_hooks(model)


def test_activations_are_copies_of_the_first_sample():
    torch.manual_seed(0)
    model = build_model(ModelSpec("cnn", 3, 3, 16, {"blocks": 2, "dropout": 0.0})).eval()
    batch = torch.randn(3, 3, 16, 16)
    output, acts = forward_with_activations(model, batch)
    with torch.no_grad():
        first_conv = model.features[0](batch)
        expected = model(batch)
    assert torch.allclose(acts["features.0"], first_conv[0], atol=1e-5)
    assert torch.allclose(output, expected, atol=1e-5)
    assert torch.allclose(acts["classifier.2"], expected[0], atol=1e-5)


def test_in_place_relu_does_not_overwrite_the_previous_layer():
    # torchvision's ResNet applies ReLU(inplace=True) to bn1's output: the captured bn1 must keep negatives.
    torch.manual_seed(0)
    model = build_model(ModelSpec("resnet18", 2, 3, 64))
    acts = capture_activations(model, torch.randn(1, 3, 64, 64))
    assert acts["bn1"].min() < 0
    assert acts["relu"].min() >= 0


def test_named_layers_only():
    model = build_model(ModelSpec("cnn", 3, 3, 16, {"blocks": 2}))
    acts = capture_activations(model, torch.randn(1, 3, 16, 16), ["features.0", "classifier.2"])
    assert list(acts) == ["features.0", "classifier.2"]
    with pytest.raises(KeyError, match="no_such_layer"):
        capture_activations(model, torch.randn(1, 3, 16, 16), ["no_such_layer"])
    assert _no_hooks(model)


def test_hooks_removed_and_mode_restored_when_forward_raises():
    model = build_model(ModelSpec("cnn", 3, 3, 16, {"blocks": 2})).train()
    with pytest.raises(RuntimeError):
        capture_activations(model, torch.randn(1, 5, 16, 16))  # wrong channel count
    assert _no_hooks(model)
    assert model.training


def test_eval_mode_used_for_the_pass():
    # Dropout active would make two captures differ; eval mode makes them identical.
    model = build_model(ModelSpec("mlp", 3, 3, 8, {"dropout": 0.5})).train()
    x = torch.randn(1, 3, 8, 8)
    a, b = capture_activations(model, x), capture_activations(model, x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert model.training


def test_two_threads_inspecting_one_model_do_not_mix_results():
    import threading

    torch.manual_seed(0)
    model = build_model(ModelSpec("cnn", 3, 3, 32, {"blocks": 2}))
    inputs = [torch.randn(1, 3, 32, 32) for _ in range(2)]
    expected = [capture_activations(model, x) for x in inputs]
    errors = []

    def work(i):
        for _ in range(15):
            got = capture_activations(model, inputs[i])
            if list(got) != list(expected[i]) or not all(torch.equal(got[k], expected[i][k]) for k in got):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _no_hooks(model)
