"""A real tiny checkpoint (1 epoch of a small mlp on built-in shapes) and tampered copies of it: each
tampering is one field of issue 12's finding 5 set to a wrong type, range or shape, or bytes flipped."""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Callable

import torch


def make_tiny_run(run_dir: str | Path) -> Path:
    """Train 1 epoch of mlp[16] on 160 shapes images at 16 px through the engine API -> the run's last.pt."""
    from core.data import DataSpec
    from core.training.session import RunSettings, prepare_trainer
    from core.training.config import TrainConfig

    settings = RunSettings(data=DataSpec(name="shapes", image_size=16, train_count=160, val_count=20),
                           model_name="mlp", model_options={"hidden": [16]},
                           train=TrainConfig(epochs=1, batch_size=32, device="cpu", schedule="none"))
    trainer = prepare_trainer(settings, run_dir)
    trainer.fit()
    return Path(run_dir) / "last.pt"


def _weights(payload):
    return payload["model_state"]


def _first_weight(payload) -> torch.Tensor:
    return next(v for v in _weights(payload).values() if v.is_floating_point() and v.numel() > 4)


def _flip_weight_bit(payload, seed):
    w = _first_weight(payload)
    flat = w.view(-1).view(torch.int32)
    i = random.Random(seed).randrange(flat.numel())
    flat[i] ^= 1 << 22  # a mantissa bit: a plausible number, silently different
    return payload


def _nan_weights(payload, seed):
    for v in _weights(payload).values():
        if v.is_floating_point():
            v.fill_(math.nan)
    return payload


def _set(path: tuple, value):
    def tamper(payload, seed):
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value(payload) if callable(value) else value
        return payload
    return tamper


def _del(path: tuple):
    def tamper(payload, seed):
        node = payload
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
        return payload
    return tamper


# name -> (tamper(payload, seed) -> payload, also_resume): also_resume marks the ones `train --resume` reads.
PAYLOAD_TAMPERS: dict[str, tuple[Callable, bool]] = {
    "unknown_model": (_set(("model_spec", "name"), "transformer9000"), False),
    "short_class_list": (_set(("classes",), lambda p: p["classes"][:-1]), False),
    "long_class_list": (_set(("classes",), lambda p: p["classes"] + ["extra1", "extra2", "extra3"]), False),
    "empty_class_list": (_set(("classes",), []), False),
    "classes_not_list": (_set(("classes",), 42), False),
    "image_size_1e6": (_set(("preprocess", "image_size"), 1_000_000), False),
    "image_size_0": (_set(("preprocess", "image_size"), 0), False),
    "image_size_negative": (_set(("preprocess", "image_size"), -1), False),
    "spec_image_size_1e6": (_set(("model_spec", "image_size"), 1_000_000), False),
    "wrong_num_classes": (_set(("model_spec", "num_classes"), lambda p: p["model_spec"]["num_classes"] + 3), False),
    "num_classes_0": (_set(("model_spec", "num_classes"), 0), False),
    "channels_7": (_set(("preprocess", "channels"), 7), False),
    "mean_wrong_length": (_set(("preprocess", "mean"), [0.5]), False),
    "std_zero": (_set(("preprocess", "std"), [0.0, 0.0, 0.0]), False),
    "format_version_text": (_set(("format_version",), "one"), False),
    "format_version_none": (_set(("format_version",), None), False),
    "format_version_future": (_set(("format_version",), 999), False),
    "model_state_not_dict": (_set(("model_state",), [1, 2, 3]), False),
    "missing_model_spec": (_del(("model_spec",)), False),
    "options_garbled": (_set(("model_spec", "options"), {"hidden": "many"}), False),
    "weight_bit_flip": (_flip_weight_bit, False),
    "nan_weights": (_nan_weights, False),
    "optimizer_garbled": (_set(("training_state", "optimizer"), "garbage"), True),
    "optimizer_empty": (_set(("training_state", "optimizer"), {}), True),
    "history_garbled": (_set(("training_state", "history"), [{"epoch": "x"}, 7]), True),
    "data_spec_garbled": (_set(("training_state", "data_spec"), {"name": 12, "image_size": "big"}), True),
    "data_spec_missing": (_del(("training_state", "data_spec")), True),
    "config_garbled": (_set(("training_state", "config"), {"lr": "fast", "batch_size": -5}), True),
    "epoch_negative": (_set(("training_state", "epoch"), -3), True),
    "training_state_text": (_set(("training_state",), "resume me"), True),
}

# Expected outcome for predict: every tampering is refused with a message, except these two that make a
# model that runs; nan_weights must still print valid JSON (no NaN token).
RUNNABLE = frozenset({"nan_weights"})


def tamper_payload(source: Path, kind: str, seed: int, dest: Path) -> Path:
    payload = torch.load(source, map_location="cpu", weights_only=True)
    tamper, _ = PAYLOAD_TAMPERS[kind]
    torch.save(tamper(payload, seed), dest)
    return dest


def tamper_bytes(source: Path, kind: str, seed: int, dest: Path) -> Path:
    """Byte-level damage: 'truncated' (cut anywhere), 'byte_flips' (a few random bits anywhere)."""
    rnd = random.Random(seed)
    data = bytearray(Path(source).read_bytes())
    if kind == "truncated":
        data = data[: rnd.randrange(1, len(data))]
    else:
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    dest.write_bytes(bytes(data))
    return dest


BYTE_TAMPERS = ("truncated", "byte_flips")
