"""torchvision models: frozen backbone, local weights files, pretrained offline, checkpoint rebuilds."""
import urllib.error

import pytest
import torch
import torchvision

import core.models.torchvision_models as tvm
from core.checkpoints.checkpoint import checkpoint_from_trainer, load_checkpoint, save_checkpoint
from core.data import DataSpec, build_data
from core.models import ModelError, ModelSpec, build_model
from core.models.torchvision_models import data_spec_for_model, head_name
from core.training.config import TrainConfig
from core.training.trainer import Trainer


@pytest.fixture(scope="module")
def tiny_data():
    return build_data(DataSpec(name="shapes", image_size=32, train_count=24, val_count=8))


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_frozen_backbone_trains_only_the_head(tiny_data):
    spec = ModelSpec("resnet18", tiny_data.num_classes, 3, 32, {"freeze_backbone": True})
    model = build_model(spec)
    assert head_name(model) == "fc"
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(model, tiny_data, TrainConfig(epochs=1, batch_size=8, lr=1e-2, device="cpu"), spec).fit()
    after = model.state_dict()
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed == {"fc.weight", "fc.bias"}  # batch-norm running statistics stay frozen too


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_b0"])
def test_head_is_replaced_for_other_architectures(name):
    model = build_model(ModelSpec(name, 3, 3, 32, {"freeze_backbone": True}))
    head = model.get_submodule(head_name(model))
    assert head.out_features == 3
    assert all(p.requires_grad == n.startswith(head_name(model) + ".") for n, p in model.named_parameters())


def test_local_weights_file_loads_and_fine_tunes(tiny_data, tmp_path):
    torch.manual_seed(1)
    source = torchvision.models.resnet18(num_classes=10)  # another task's head: 10 classes
    path = tmp_path / "resnet18_other_task.pth"
    torch.save(source.state_dict(), path)
    spec = ModelSpec("resnet18", tiny_data.num_classes, 3, 32, {"weights_path": str(path)})
    model = build_model(spec)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)
    assert model.fc.out_features == tiny_data.num_classes  # the old 10-class head was skipped
    before = _snapshot(model)
    cfg = TrainConfig(epochs=1, batch_size=8, lr=1e-3, backbone_lr_scale=0.1, device="cpu")
    trainer = Trainer(model, tiny_data, cfg, spec)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-4, 1e-3])
    assert len(trainer.optimizer.param_groups[1]["params"]) == 2  # fc.weight, fc.bias at the full lr
    trainer.fit()
    assert not torch.equal(before["conv1.weight"], model.conv1.weight)  # fine-tuned, not frozen
    assert not torch.equal(before["fc.weight"], model.fc.weight)


def test_same_class_count_keeps_the_loaded_head(tmp_path):
    source = torchvision.models.resnet18(num_classes=4)
    path = tmp_path / "w.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)  # DDP style
    model = build_model(ModelSpec("resnet18", 4, 3, 32, {"weights_path": str(path)}))
    assert torch.equal(model.fc.weight, source.fc.weight)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "mobilenet.pt"
    torch.save(torchvision.models.mobilenet_v3_small(num_classes=2).state_dict(), path)
    with pytest.raises(ModelError, match="do not fit resnet18"):
        build_model(ModelSpec("resnet18", 2, 3, 32, {"weights_path": str(path)}))


def test_unreadable_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="not a readable weights file"):
        build_model(ModelSpec("resnet18", 2, 3, 32, {"weights_path": str(path)}))
    with pytest.raises(ModelError, match="does not exist"):
        build_model(ModelSpec("resnet18", 2, 3, 32, {"weights_path": str(tmp_path / "missing.pth")}))


def test_pretrained_offline_says_how_to_use_a_local_file(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline, raising=False)
    with pytest.raises(ModelError) as err:
        build_model(ModelSpec("resnet18", 2, 3, 224, {"pretrained": True}))
    msg = str(err.value)
    assert "could not download the pretrained resnet18 weights" in msg
    assert "resnet18-f37072fd.pth" in msg and "local weights file" in msg


def test_pretrained_weights_load_through_the_weights_api(monkeypatch):
    """The weights API path with a stand-in download (no network): every backbone tensor is loaded."""
    fake = torchvision.models.resnet18(num_classes=1000).state_dict()
    monkeypatch.setattr(tvm, "_download_state_dict", lambda name: fake)
    model = build_model(ModelSpec("resnet18", 2, 3, 224, {"pretrained": True, "freeze_backbone": True}))
    assert torch.equal(model.layer1[0].conv1.weight, fake["layer1.0.conv1.weight"])
    assert model.fc.out_features == 2


def test_pretrained_model_gets_its_weights_normalisation():
    spec = data_spec_for_model(DataSpec(name="/some/folder"), "resnet18", {"pretrained": True})
    assert spec.mean == pytest.approx((0.485, 0.456, 0.406)) and spec.std == pytest.approx((0.229, 0.224, 0.225))
    assert spec.image_size == 224 and spec.channels == 3
    assert data_spec_for_model(DataSpec(name="mnist", image_size=64), "resnet18", {"pretrained": True}).image_size == 64
    plain = DataSpec(name="/some/folder")
    assert data_spec_for_model(plain, "resnet18", {}) is plain
    assert data_spec_for_model(plain, "cnn", {"pretrained": True}) is plain


def test_checkpoint_rebuild_never_loads_weights_again(tiny_data, tmp_path, monkeypatch):
    fake = torchvision.models.resnet18(num_classes=1000).state_dict()
    monkeypatch.setattr(tvm, "_download_state_dict", lambda name: fake)
    spec = ModelSpec("resnet18", tiny_data.num_classes, 3, 32, {"pretrained": True, "freeze_backbone": True})
    trainer = Trainer(build_model(spec), tiny_data, TrainConfig(epochs=1, batch_size=8, device="cpu"), spec)
    trainer.fit()
    path = save_checkpoint(checkpoint_from_trainer(trainer), tmp_path / "last.pt")

    def no_download(name):
        raise AssertionError("a checkpoint must not download weights")

    monkeypatch.setattr(tvm, "_download_state_dict", no_download)
    ckpt = load_checkpoint(path)
    assert ckpt.model_spec.options["pretrained"] is True  # provenance is kept
    rebuilt = ckpt.build_model()
    x = torch.randn(2, 3, 32, 32)
    trainer.model.eval()
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), trainer.model(x), atol=1e-5)


def test_prepare_trainer_gives_a_pretrained_model_its_normalisation(monkeypatch, shared_data, tmp_path):
    from core.data.transforms import Augmentation
    from core.training.session import RunSettings, prepare_trainer

    fake = torchvision.models.resnet18(num_classes=1000).state_dict()
    monkeypatch.setattr(tvm, "_download_state_dict", lambda name: fake)
    settings = RunSettings(
        data=DataSpec(name=str(shared_data / "hymenoptera"), image_size=64, augmentation=Augmentation(horizontal_flip=True)),
        model_name="resnet18", model_options={"pretrained": True, "freeze_backbone": True},
        train=TrainConfig(epochs=1, batch_size=16, device="cpu"))
    trainer = prepare_trainer(settings, tmp_path / "run")
    assert trainer.data.preprocess.mean == pytest.approx((0.485, 0.456, 0.406))
    assert trainer.data.spec.mean is not None and settings.data.mean is None  # the caller's settings untouched
    assert trainer.model_spec.in_channels == 3 and trainer.model_spec.image_size == 64
    assert trainer.fit()["epoch"] == 1


def test_a_cnn_too_deep_for_its_image_size_is_refused_with_what_to_change():
    with pytest.raises(ModelError, match=r"at least 16 px.*got 12 px.*blocks=3"):
        build_model(ModelSpec("cnn", 3, 3, 12, {}), load_weights=False)
    assert build_model(ModelSpec("cnn", 3, 3, 12, {"blocks": 3}), load_weights=False) is not None
