"""One image pipeline: the same JPEG gets the same probabilities from evaluate, predict and `layerscope inspect`;
the export is verified on inputs the pipeline made; a checkpoint records its decode rule, and one written before
the rule existed reads as the reduced-scale rule its training used."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from core.checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from core.checkpoints.predict import Predictor
from core.data import DataSpec, build_data
from core.data.pipeline import model_input
from core.data.transforms import DECODE_FULL, DECODE_REDUCED, LEGACY_DECODE
from core.evaluate.run import evaluate_checkpoint
from core.inspect.inspection import inspect_image
from tests.support.photos import sensitive_checkpoint, write_jpeg_folder

CLASSES = ("cats", "dogs")
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_jpeg_folder(tmp_path_factory.mktemp("photos") / "pets", CLASSES, per_class=4)


def _predicted(predictor: Predictor, path) -> np.ndarray:
    """predict's probabilities for one file, in class order."""
    (result,) = predictor.classify_files([path], top_k=len(CLASSES))
    assert result.error is None, result.error
    got = dict(result.top)
    return np.array([got[c] for c in CLASSES])


def test_evaluate_predict_and_inspect_agree_on_every_jpeg(photos):
    ckpt = sensitive_checkpoint(CLASSES)
    evaluation = evaluate_checkpoint(ckpt, photos, "all")
    assert len(evaluation.files) == 8
    predictor = Predictor.from_checkpoint(ckpt)
    for file, evaluated in zip(evaluation.files, evaluation.probs):
        predicted = _predicted(predictor, file)
        inspected = inspect_image(predictor, predictor.load(file)).probabilities  # `layerscope inspect`'s path
        assert np.abs(predicted - evaluated).max() < TOLERANCE, file
        assert np.abs(inspected - evaluated).max() < TOLERANCE, file


def test_the_decode_rule_changes_what_the_model_sees(photos):
    """The agreement above is not luck: decoding these JPEGs at full size gives other probabilities."""
    ckpt = sensitive_checkpoint(CLASSES)
    full = replace(ckpt, preprocess=replace(ckpt.preprocess, decode=DECODE_FULL))
    reduced = evaluate_checkpoint(ckpt, photos, "all").probs
    whole = evaluate_checkpoint(full, photos, "all").probs
    assert np.abs(reduced - whole).max() > 1e-3
    predicted = _predicted(Predictor.from_checkpoint(full), evaluate_checkpoint(full, photos, "all").files[0])
    assert np.abs(predicted - whole[0]).max() < TOLERANCE  # and predict follows the checkpoint's rule


def test_training_and_validation_use_the_pipeline(photos):
    bundle = build_data(DataSpec(name=str(photos), image_size=32, val_fraction=0.5))
    assert bundle.preprocess.decode == DECODE_REDUCED
    from core.data.folder import scan_folder_splits

    for index, (file, _) in enumerate(scan_folder_splits(photos, 0.5, 0).val):
        assert torch.equal(bundle.val[index][0], model_input(file, bundle.preprocess))
    uncached = build_data(DataSpec(name=str(photos), image_size=32, val_fraction=0.5, cache_mb=0.001))
    assert all(torch.equal(uncached.val[i][0], bundle.val[i][0]) for i in range(len(bundle.val)))


def test_a_checkpoint_records_its_decode_rule(tmp_path):
    path = save_checkpoint(sensitive_checkpoint(CLASSES), tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["preprocess"]["decode"] == DECODE_REDUCED
    assert load_checkpoint(path).preprocess.decode == DECODE_REDUCED


def test_an_old_checkpoint_without_the_rule_reads_as_reduced(tmp_path, photos):
    path = save_checkpoint(sensitive_checkpoint(CLASSES), tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    del payload["preprocess"]["decode"]  # as written before the rule was recorded
    torch.save(payload, path)
    old = load_checkpoint(path)
    assert old.preprocess.decode == LEGACY_DECODE == DECODE_REDUCED
    file = sorted((photos / "cats").glob("*.jpg"))[0]
    assert np.abs(_predicted(Predictor.from_checkpoint(old), file)
                  - _predicted(Predictor.from_checkpoint(sensitive_checkpoint(CLASSES)), file)).max() < TOLERANCE


def test_an_unknown_decode_rule_is_refused(tmp_path):
    path = save_checkpoint(sensitive_checkpoint(CLASSES), tmp_path / "odd.pt")
    payload = torch.load(path, weights_only=True)
    payload["preprocess"]["decode"] = "sideways"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="preprocess.decode"):
        load_checkpoint(path)


def test_the_export_is_verified_on_the_pipelines_inputs(photos, tmp_path):
    import json

    from core.evaluate.export import export_checkpoint, verification_batch
    from core.evaluate.source import eval_data

    ckpt = sensitive_checkpoint(CLASSES)
    batch, source = verification_batch(ckpt, photos, count=8)
    files = eval_data(ckpt, photos, "val").files
    assert str(photos) in source and len(batch) == len(files) == 2  # the stratified val split: one per class
    for x, file in zip(batch, files):
        assert torch.equal(x, model_input(file, ckpt.preprocess))
    report = export_checkpoint(ckpt, "torchscript", tmp_path / "m.ts", dataset=photos)
    assert report.images == 2 and report.top1_agreement == 1.0
    sidecar = json.loads((tmp_path / "m.ts.json").read_text())
    assert sidecar["preprocess"]["decode"] == DECODE_REDUCED and "draft" in sidecar["pipeline"]
    # The exported model fed the pipeline's input gives predict's probabilities.
    loaded = torch.jit.load(str(tmp_path / "m.ts"))
    file = sorted((photos / "dogs").glob("*.jpg"))[0]
    with torch.no_grad():
        exported = torch.softmax(loaded(model_input(file, ckpt.preprocess)[None]), 1)[0].numpy()
    assert np.abs(exported - _predicted(Predictor.from_checkpoint(ckpt), file)).max() < TOLERANCE
