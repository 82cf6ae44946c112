"""The Inspect tab's code path (gui/inspector/inspection_jobs.py over core) gives the probabilities `evaluate` and
`predict` give for the same JPEG: a drop's row, the detail view and a URL's bytes alike (to 1e-5)."""
from __future__ import annotations

import numpy as np
import pytest

from core.checkpoints.predict import Predictor
from core.evaluate.run import evaluate_checkpoint
from gui.inspector.inspection_jobs import InspectionJobs
from gui.inspector.sources import ImageSource
from tests.support.photos import sensitive_checkpoint, write_jpeg_folder

CLASSES = ("ants", "bees")
TOLERANCE = 1e-5


def _in_class_order(top) -> np.ndarray:
    got = dict(top)
    return np.array([got[c] for c in CLASSES])


def _agree(dataset, ckpt):
    evaluation = evaluate_checkpoint(ckpt, dataset, "all")
    predictor = Predictor.from_checkpoint(ckpt)
    jobs = InspectionJobs()
    for file, evaluated in zip(evaluation.files, evaluation.probs):
        source = ImageSource.from_path(file)
        row = jobs.classify_row(1, 0, source, ckpt, top_k=len(CLASSES))
        assert row.error is None, row.error
        detail = jobs.inspect(1, 0, source, ckpt, top_k=len(CLASSES), scaling="channel")
        (predicted,) = predictor.classify_files([file], top_k=len(CLASSES))
        for probs in (_in_class_order(row.top), detail.inspection.probabilities, _in_class_order(predicted.top)):
            assert np.abs(probs - evaluated).max() < TOLERANCE, file
    return evaluation


def test_generated_jpegs_agree_in_evaluate_predict_and_the_inspector(tmp_path):
    _agree(write_jpeg_folder(tmp_path / "photos", CLASSES, per_class=3), sensitive_checkpoint(CLASSES))


def test_real_photos_agree_in_evaluate_predict_and_the_inspector(shared_data):
    evaluation = _agree(shared_data / "hymenoptera" / "val", sensitive_checkpoint(CLASSES, image_size=64))
    assert len(evaluation.files) == 50


def test_an_images_bytes_are_decoded_like_its_file(tmp_path):
    """A URL or a paste reaches the inspector as bytes: the same decode rule applies to them."""
    folder = write_jpeg_folder(tmp_path / "photos", CLASSES, per_class=1)
    ckpt = sensitive_checkpoint(CLASSES)
    path = sorted((folder / "bees").glob("*.jpg"))[0]
    jobs = InspectionJobs()
    from_file = jobs.classify_row(1, 0, ImageSource.from_path(path), ckpt, top_k=2)
    from_bytes = jobs.classify_row(1, 0, ImageSource.from_bytes(path.read_bytes(), "pasted"), ckpt, top_k=2)
    assert from_bytes.error is None
    assert _in_class_order(from_bytes.top) == pytest.approx(_in_class_order(from_file.top), abs=TOLERANCE)
