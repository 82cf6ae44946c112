"""The one forward-hook helper (core/models/hooks.py): hooks always come off, the model's mode comes back, and
the penultimate features of the app's models (and of a torchvision network) are what their head sees."""
import pytest
import torch
import torch.nn as nn
import torchvision

from core.models import ModelSpec, build_model
from core.models.hooks import Hooks, evaluating, features_and_output, last_linear, penultimate_features


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _mlp() -> nn.Module:
    return build_model(ModelSpec("mlp", num_classes=3, image_size=8, options={"hidden": [16, 6]}))


def test_hooks_see_each_layer_and_come_off_on_leaving():
    model = _mlp()
    seen = {}
    layers = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    with Hooks(layers, lambda name, inputs, output: seen.setdefault(name, (inputs[0].shape, output.shape))) as hooks:
        assert hooks.count == 3 and _hook_count(model) == 3
        model(torch.zeros(2, 3, 8, 8))
    assert _hook_count(model) == 0 and hooks.count == 0
    assert [shape for _, shape in seen.values()] == [(2, 16), (2, 6), (2, 3)]


def test_hooks_come_off_when_the_forward_pass_raises():
    model = _mlp()
    with pytest.raises(RuntimeError):  # a wrong input size fails inside the first Linear
        with Hooks(model.named_children(), lambda *_: None):
            model(torch.zeros(1, 3, 5, 5))
    assert _hook_count(model) == 0


def test_a_hook_before_the_layer_sees_its_input_only():
    model = _mlp()
    seen = []
    with Hooks({"0": model[0]}, lambda name, inputs, output: seen.append((name, inputs[0].shape, output)), before=True):
        model(torch.zeros(1, 3, 8, 8))
    assert seen == [("0", (1, 3, 8, 8), None)]


def test_a_layer_that_refuses_hooks_is_named_or_raises():
    scripted = torch.jit.script(nn.Sequential(nn.Linear(4, 3)))
    with Hooks({"scripted": scripted}, lambda *_: None, skip_refused=True) as hooks:
        assert hooks.count == 0 and "scripted" in hooks.refused
    with pytest.raises(RuntimeError):
        Hooks({"scripted": scripted}, lambda *_: None)


def test_evaluating_restores_the_models_mode_whatever_happens():
    model = _mlp().train()
    with pytest.raises(ValueError):
        with evaluating(model):
            assert not model.training
            raise ValueError("inside")
    assert model.training
    with evaluating(model.eval()):
        pass
    assert not model.training


@pytest.mark.parametrize("name, head", [("mlp", lambda m: m[-1]), ("cnn", lambda m: m.classifier[-1])])
def test_last_linear_is_the_head_of_the_apps_models(name, head):
    model = build_model(ModelSpec(name, num_classes=3, image_size=16, options={}))
    found = last_linear(model)
    assert found is not None and found[1] is head(model) and found[1].out_features == 3
    assert model.get_submodule(found[0]) is found[1]
    assert last_linear(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())) is None


def test_penultimate_features_of_the_mlp_are_its_last_hidden_layer():
    torch.manual_seed(0)
    model = _mlp().train()
    x = torch.randn(5, 3, 8, 8)
    features, output = features_and_output(model, x)
    model.eval()
    assert features.shape == (5, 6)
    assert torch.allclose(features, model[:-1](x), atol=1e-6)  # everything before the head
    assert torch.allclose(output, model(x), atol=1e-6)
    assert _hook_count(model) == 0


def test_penultimate_features_of_the_cnn_are_its_pooled_channels():
    torch.manual_seed(0)
    model = build_model(ModelSpec("cnn", num_classes=3, image_size=16, options={"blocks": 2, "channels": 4}))
    x = torch.randn(3, 3, 16, 16)
    features = penultimate_features(model, x)
    assert features.shape == (3, 8)  # 4 channels doubled once
    with evaluating(model), torch.no_grad():  # batch norm's running statistics, as in the pass
        assert torch.allclose(features, model.pool(model.features(x)).flatten(1), atol=1e-6)
    assert model.training and _hook_count(model) == 0  # built in train mode, left in train mode


def test_penultimate_features_of_a_torchvision_resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4).eval()
    x = torch.randn(2, 3, 64, 64)
    name, head = last_linear(model)
    assert name == "fc"
    features = penultimate_features(model, x)
    assert features.shape == (2, 512)
    with torch.no_grad():
        assert torch.allclose(head(features), model(x), atol=1e-5)  # the head of these features is the output
    assert _hook_count(model) == 0


def test_a_model_without_a_linear_layer_has_no_penultimate_features():
    with pytest.raises(ValueError, match="no Linear layer"):
        penultimate_features(nn.Sequential(nn.Conv2d(3, 2, 1)), torch.zeros(1, 3, 4, 4))
