"""Tampered checkpoints: every field is checked before use, and each kind of damage gives one
CheckpointError that says what is wrong, for predict, inspect and resume alike (never a traceback)."""
import copy
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.checkpoints.checkpoint import (
    CheckpointError,
    _checkpoint_from_payload,
    checkpoint_from_trainer,
    load_checkpoint,
    save_checkpoint,
)
from core.cli.main import main
from core.data import DataSpec
from core.checkpoints.predict import Predictor
from core.training.session import RunSettings, prepare_trainer
from core.training.config import TrainConfig

SETTINGS = RunSettings(data=DataSpec(train_count=32, val_count=16, image_size=16, seed=1), model_name="mlp",
                       model_options={"hidden": [8]}, train=TrainConfig(epochs=2, batch_size=16, schedule="none"))


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    """A real, resumable checkpoint's payload (one trained epoch)."""
    trainer = prepare_trainer(RunSettings(**{**SETTINGS.__dict__, "train": TrainConfig(epochs=1, batch_size=16,
                                                                                         schedule="none")}), None)
    trainer.fit()
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    save_checkpoint(checkpoint_from_trainer(trainer), path)
    return torch.load(path, map_location="cpu", weights_only=True)


def write(tmp_path, payload, change) -> str:
    tampered = copy.deepcopy(payload)
    change(tampered)
    path = tmp_path / "tampered.pt"
    torch.save(tampered, path)
    return str(path)


def set_in(*keys_and_value):
    *keys, value = keys_and_value

    def change(p):
        target = p
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def flip_a_bit(p):
    name = next(k for k, v in p["model_state"].items() if v.dtype == torch.float32 and v.numel() > 4)
    raw = p["model_state"][name].view(torch.int32)
    raw.view(-1)[3] ^= 1 << 20


LOAD_CASES = {
    "unknown model": (set_in("model_spec", "name", "transformer9000"), "not a known model"),
    "short class list": (lambda p: p["classes"].pop(), "names 4 classes but its model has 5 outputs"),
    "long class list": (lambda p: p["classes"].append("extra"), "names 6 classes but its model has 5"),
    "image size 10^6": (set_in("model_spec", "image_size", 10**6), "image_size is 1000000"),
    "image size 0": (set_in("preprocess", "image_size", 0), "image_size is 0"),
    "image size -1": (set_in("model_spec", "image_size", -1), "image_size is -1"),
    "wrong num_classes": (set_in("model_spec", "num_classes", 7), "its model has 7 outputs"),
    "num_classes and classes agree, head does not": (
        lambda p: (p["model_spec"].update(num_classes=6), p["classes"].append("f")), "do not fit"),
    "unreadable format_version": (set_in("format_version", "one"), "format_version 'one' is not a version"),
    "newer format_version": (set_in("format_version", 99), "newer Layerscope"),
    "image size a string": (set_in("model_spec", "image_size", "big"), "should be a whole number"),
    "mean of the wrong length": (set_in("preprocess", "mean", [0.5]), "preprocess.mean"),
    "bit flip in a weight": (flip_a_bit, "damaged: checksum mismatch"),
}


@pytest.mark.parametrize("case", list(LOAD_CASES))
def test_each_tampering_gives_one_clear_checkpoint_error(tmp_path, payload, case, capsys):
    change, expected = LOAD_CASES[case]
    path = write(tmp_path, payload, change)
    with pytest.raises(CheckpointError) as err:
        Predictor.from_checkpoint(load_checkpoint(path))
    assert expected in str(err.value) and path in str(err.value)
    image = tmp_path / "x.png"
    Image.new("RGB", (16, 16), "red").save(image)
    for argv in (["predict", "--checkpoint", path, str(image)],
                 ["inspect", "--checkpoint", path, "--out", str(tmp_path / "insp"), str(image)]):
        assert main(argv) == 2
        err_text = capsys.readouterr().err
        assert expected in err_text and "Traceback" not in err_text


RESUME_CASES = {
    "garbled optimizer": (set_in("training_state", "optimizer", "garbage"), "training_state.optimizer"),
    "optimizer groups not a list": (set_in("training_state", "optimizer", "param_groups", 3), "param_groups"),
    "garbled history": (set_in("training_state", "history", [{"epoch": "x"}]), "history[0]"),
    "history not a list": (set_in("training_state", "history", 5), "training_state.history"),
    "garbled data_spec": (set_in("training_state", "data_spec", [1, 2]), "training_state.data_spec"),
    "negative epoch": (set_in("training_state", "epoch", -3), "training_state.epoch is -3"),
    "weights only": (set_in("training_state", None), "weights only"),
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_a_damaged_training_state_refuses_resume_clearly(tmp_path, payload, case, capsys):
    change, expected = RESUME_CASES[case]
    path = write(tmp_path, payload, change)
    with pytest.raises(CheckpointError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        prepare_trainer(SETTINGS, tmp_path / "resumed", resume=path)
    assert main(["train", "--resume", path, "--epochs", "2", "--out", str(tmp_path / "cli"), "--quiet"]) == 2
    err_text = capsys.readouterr().err
    assert expected in err_text and "Traceback" not in err_text


def test_an_old_checkpoint_without_a_checksum_still_loads(tmp_path, payload):
    path = write(tmp_path, payload, lambda p: p.pop("weights_sha256"))
    assert load_checkpoint(path).classes == payload["classes"]


def test_top_k_past_the_class_list_is_clamped(payload):
    checkpoint = load_checkpoint_from(payload)
    top = Predictor.from_checkpoint(checkpoint).classify(Image.new("RGB", (16, 16), "blue"), top_k=50)
    assert len(top) == len(payload["classes"])


def load_checkpoint_from(payload):
    return _checkpoint_from_payload(copy.deepcopy(payload), Path("memory.pt"))
