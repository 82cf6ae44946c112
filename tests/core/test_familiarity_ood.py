"""Familiarity of a real trained model: a cnn trained on the shapes without one shape, scored on new images of
the shapes it knows, on the shape it never saw, and on images of another kind (noise, drawn digits).

The model is trained once for the module (a plain PyTorch loop, 32 px, 12 epochs, about 99 % validation
accuracy). What familiarity achieves depends on what the model has learned to see: with 16 channels in its
first block it flagged 53 % of the left-out triangles (30 epochs: 67 %; 6,000 images: 84 %), with 32 channels
92 % (30 epochs: 97 %), new images of the known shapes 3-4 % in each case. The square, the shape most like
the others, stays far below the issue's 80 % even so (32 channels: 50 %, known shapes 7 %); README's table.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.familiarity.bank import make_bank
from core.familiarity.bank_file import load_bank, save_bank
from core.familiarity.features import extract_features
from core.familiarity.jobs import score_inputs
from core.familiarity.scoring import familiarity_many, familiarity_of, familiarity_scores
from tests.support.unfamiliar import (digit_images, image_set, noise_images, shapes_without, to_inputs,
                                      train_classifier)

SIZE, COUNT, EPOCHS, LEFT_OUT = 32, 3000, 12, "triangle"  # of the five, the shape most often told apart
CHANNELS = 32  # the cnn's first block: twice the default width is what tells an unseen shape apart
CHECKSUM = "5" * 64


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a CPU shared with other jobs, a small cnn waits for cores more than it computes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained():
    images, labels, unseen, classes = shapes_without(LEFT_OUT, COUNT, SIZE, seed=11)
    n_val = len(labels) // 5
    model, _spec, pre = train_classifier(images[n_val:], labels[n_val:], classes, epochs=EPOCHS,
                                         options={"channels": CHANNELS, "blocks": 3})
    sets = [image_set("train", images[n_val:], labels[n_val:], pre), image_set("val", images[:n_val], labels[:n_val], pre)]
    features = extract_features(model, sets)
    bank = make_bank(features, classes, CHECKSUM)
    return model, pre, classes, features, bank, unseen


def _flagged(model, pre, bank, images) -> float:
    features = extract_features(model, [image_set("other", images, np.zeros(len(images)), pre, "probe")])
    return float(np.mean([not f.familiar for f in familiarity_many(bank, features)]))


@pytest.mark.timeout(1800)  # the module's model trains for about a minute at rest, minutes on a busy shared CPU
def test_the_model_learned_its_shapes(trained):
    _model, _pre, _classes, features, _bank, _unseen = trained
    val = features.split("val")
    assert (val.predictions == val.labels).mean() > 0.85


def test_new_images_of_known_shapes_are_familiar(trained):
    model, pre, classes, _features, bank, _unseen = trained
    images, labels = make_shapes(400, SIZE, seed=99)  # never seen: neither trained on nor calibrated on
    known = labels != SHAPE_CLASSES.index(LEFT_OUT)
    assert _flagged(model, pre, bank, images[known]) <= 0.10


def test_noise_is_unfamiliar(trained):
    model, pre, _classes, _features, bank, _unseen = trained
    assert _flagged(model, pre, bank, noise_images(100, SIZE, seed=3)) >= 0.95


def _auroc_against_known_shapes(trained, images) -> float:
    """How well the familiarity score tells `images` from new images of the shapes the model knows."""
    from sklearn.metrics import roc_auc_score

    model, pre, _classes, _features, bank, _unseen = trained
    shapes, labels = make_shapes(400, SIZE, seed=99)
    known = shapes[labels != SHAPE_CLASSES.index(LEFT_OUT)]

    def scores(batch):
        features = extract_features(model, [image_set("other", batch, np.zeros(len(batch)), pre)])
        return familiarity_scores(bank, features)

    inside, outside = scores(known), scores(images)
    return float(roc_auc_score(np.r_[np.ones(len(inside)), np.zeros(len(outside))], np.r_[inside, outside]))


def test_the_left_out_shape_scores_lower_than_known_shapes(trained):
    """Measurably less familiar than new images of known shapes, though far from the issue's target. (Drawn
    digits are not: to a model at this stage they are one more bright figure on a plain background.)"""
    assert _auroc_against_known_shapes(trained, trained[5]) >= 0.6


def test_drawn_digits_are_flagged_as_the_issue_asks(trained):
    """The first block's colour and texture statistics (a Mahalanobis view) tell drawn digits apart, where the
    penultimate features alone flagged 5-55 % of them."""
    model, pre, _classes, _features, bank, _unseen = trained
    assert _flagged(model, pre, bank, digit_images(100, SIZE, seed=4, style="mnist")) >= 0.95


def test_the_left_out_shape_is_flagged_as_the_issue_asks(trained):
    """Issue 20's target: measured 92 % of the triangles (known shapes 3 %) on this setting; see the module's
    docstring for the square, which does not reach it."""
    model, pre, _classes, _features, bank, unseen = trained
    assert _flagged(model, pre, bank, unseen) >= 0.80


def test_the_nearest_training_images_of_a_validation_image_are_mostly_of_its_class(trained):
    _model, _pre, classes, features, bank, _unseen = trained
    val = features.split("val")
    results = familiarity_many(bank, val)
    same = [np.mean([n.label == classes[y] for n in r.nearest]) for r, y in zip(results, val.labels)]
    assert np.mean(same) >= 0.8
    assert all(len(r.nearest) == 5 and r.nearest[0].path.startswith("shapes:train/") for r in results)


def test_one_forward_gives_the_prediction_and_the_familiarity_of_a_dropped_image(trained, tmp_path):
    model, pre, _classes, _features, bank, _unseen = trained
    loaded = load_bank(save_bank(bank, tmp_path / "best.familiarity.npz"), CHECKSUM)
    dropped = np.concatenate([noise_images(1, SIZE, seed=8), make_shapes(1, SIZE, seed=9)[0]])
    inputs = to_inputs(dropped, pre)
    scored = score_inputs(model, loaded, inputs)
    probabilities, familiarity = scored.probabilities, scored.familiarity
    with torch.inference_mode():
        expected = torch.softmax(model(inputs), dim=1).numpy()
    assert np.allclose(probabilities, expected, atol=1e-5)
    assert familiarity[0].familiar is False and familiarity[0].score < familiarity[0].threshold
    features = extract_features(model, [image_set("other", dropped, np.zeros(2), pre)])
    assert np.allclose(scored.features, features.features, atol=1e-5)
    assert familiarity[1].to_dict() == familiarity_of(bank, features.subset(np.array([1]))).to_dict()
    assert score_inputs(model, None, inputs).familiarity is None  # no bank: familiarity unknown
