"""Feature visualization on tiny models trained for seconds: first-layer pictures are their filters, pictures
excite their unit more than any dataset image, class pictures are classified as their class; deterministic,
cancellable within one step, greyscale models get greyscale pictures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import Cancelled
from core.progress import Reporter
from core.featurevis import robustness, sanity
from core.featurevis.optimize import VisSettings, synthesize
from core.featurevis.parameterization import FourierImage
from core.featurevis.units import OUTPUT, UnitError, first_layer, parse_units
from core.featurevis.visualize import attach_real_tops, resolve_target, visualize_model
from tests.core import featurevis_kit as kit

STEPS = 128
FIRST_LAYER_CORRELATION = 0.95  # reached: 0.97-1.00 (conv, RGB, 64 steps), 0.99-1.00 (MLP, greyscale)


@pytest.fixture(scope="module")
def shapes():
    """A tiny CNN that tells the three coloured shapes apart (accuracy 1.0 on its data)."""
    images, labels = kit.draw_images(40, 32, seed=0)
    pre = kit.preprocess_for(images)
    data = kit.dataset(images, labels, pre)
    model, _ = kit.train("cnn", data, 3, 32, epochs=3, options={"blocks": 2, "channels": 8})
    assert kit.accuracy(model, data) > 0.9
    return model, pre, data


def _visualise(model, pre, layer=None, units=None, class_=None, steps=STEPS, **settings):
    target = resolve_target(model, pre, list(kit.CLASSES), layer, units, class_)
    return target, visualize_model(model, pre, list(kit.CLASSES), target, VisSettings(steps=steps, **settings))


def test_first_layer_pictures_are_the_filters_themselves(shapes):
    model, pre, _ = shapes
    target, pictures = _visualise(model, pre, "features.0", steps=64)
    assert target.reads_picture and len(pictures) == 8
    for picture in pictures:
        assert picture.weight_correlation >= FIRST_LAYER_CORRELATION, picture.numbers()
        assert picture.image.shape == (32, 32, 3) and picture.image.dtype == np.uint8


def test_a_greyscale_mlp_gets_greyscale_pictures_of_its_linear_templates():
    images, labels = kit.draw_images(30, 32, seed=1)
    pre = kit.preprocess_for(images, channels=1)
    model, _ = kit.train("mlp", kit.dataset(images, labels, pre), 3, 32, channels=1, epochs=3,
                         options={"hidden": [16]})
    target, pictures = _visualise(model, pre, "1", "0-3")
    assert first_layer(model, (1, 32, 32)) == "1" and target.reads_picture
    for picture in pictures:
        assert picture.image.shape == (32, 32, 1)
        assert picture.weight_correlation >= FIRST_LAYER_CORRELATION, picture.numbers()


def test_pictures_excite_their_unit_more_than_any_dataset_image(shapes):
    model, pre, data = shapes
    for layer, units in (("features.4", [0, 3, 6, 7]), (OUTPUT, [0, 1, 2])):
        target, pictures = _visualise(model, pre, layer, units)
        real = sanity.real_top_from_dataset(model, data, target.layer, target.units, source="the shapes",
                                            max_images=len(data))
        attach_real_tops(pictures, real)
        for picture in pictures:
            assert picture.ratio is not None and picture.ratio > 1.0, picture.numbers()
            assert 0 <= picture.real_index < len(data)


def test_class_pictures_are_classified_as_their_class(shapes):
    model, pre, _ = shapes
    _, pictures = _visualise(model, pre, class_=list(kit.CLASSES))
    assert [p.predicted_class for p in pictures] == list(kit.CLASSES)
    assert all(p.class_probability > 0.5 for p in pictures)


def test_a_seed_gives_the_same_pictures_whatever_shares_the_batch(shapes):
    model, pre, _ = shapes
    pre_settings = dict(steps=12, batch_size=4)
    _, together = _visualise(model, pre, "features.4", [0, 1, 2], **pre_settings)
    _, alone = _visualise(model, pre, "features.4", [1], **pre_settings)
    _, again = _visualise(model, pre, "features.4", [0, 1, 2], **pre_settings)
    _, other_seed = _visualise(model, pre, "features.4", [1], seed=5, **pre_settings)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(together, again))
    assert np.abs(together[1].image.astype(int) - alone[0].image.astype(int)).max() <= 1  # float rounding only
    assert np.abs(alone[0].image.astype(int) - other_seed[0].image.astype(int)).max() > 10


def test_cancel_stops_within_one_optimisation_step(shapes):
    model, pre, _ = shapes
    steps_done = []

    def progress(done, total, message):
        steps_done.append(done)

    with pytest.raises(Cancelled):
        synthesize(model, pre, "features.4", [0, 1], VisSettings(steps=200),
                   Reporter(progress, cancel=lambda: len(steps_done) >= 3))
    assert steps_done == [1, 2, 3]
    assert not model.training  # the model's mode is restored


def test_model_weights_and_mode_are_left_as_they_were(shapes):
    model, pre, _ = shapes
    model.zero_grad(set_to_none=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    try:
        _visualise(model, pre, "features.4", [0], steps=4)
        assert model.training
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()


def test_transforms_are_scaled_to_the_networks_input_size():
    assert robustness.Robustness.for_size(224).jitter_px == 6  # Lucid's, at the size it was made for
    assert robustness.Robustness.for_size(64).jitter_px == 2
    assert robustness.Robustness.for_size(28).jitter_px == 1
    picture = torch.zeros(1, 1, 8, 8)
    picture[0, 0, 3, 4] = 1.0
    one_pixel = torch.tensor([[[1.0, 0.0, 2 / 8], [0.0, 1.0, 0.0]]])  # x in the grid: one pixel along x
    moved = robustness.apply(picture, one_pixel)
    assert moved[0, 0, 3, 3] == pytest.approx(1.0) and moved.sum() == pytest.approx(1.0)


def test_pictures_start_at_the_datas_mean_colour():
    generators = [torch.Generator().manual_seed(0)]
    mean = (0.1, 0.5, 0.8)
    start = FourierImage(1, 3, 32, generators, mean=mean)().detach()
    assert torch.allclose(start.mean(dim=(0, 2, 3)), torch.tensor(mean), atol=0.02)
    assert start.min() >= 0 and start.max() <= 1


def test_units_are_parsed_and_checked():
    assert parse_units("0-3,8, 10-11", 16) == [0, 1, 2, 3, 8, 10, 11]
    with pytest.raises(UnitError, match="has 16"):
        parse_units("0-16", 16)
    with pytest.raises(UnitError, match="0-15"):
        parse_units("five", 16)
