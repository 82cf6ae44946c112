"""Feature mosaics, vector strips, colour export, layer statistics and first-layer filters."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings, strategies as st

from core.inspect import feature_mosaic, first_layer_filters, layer_stats, to_rgb8, vector_image
from core.models import ModelSpec, build_model


@pytest.mark.parametrize("c,h,w,columns,pad,rows,cols", [
    (16, 8, 8, None, 1, 4, 4),
    (10, 5, 7, 4, 2, 3, 4),
    (1, 6, 6, None, 1, 1, 1),
    (64, 3, 3, 16, 0, 4, 16),
    (3, 4, 4, 10, 1, 1, 3),  # more columns than channels: one row
])
def test_mosaic_size(c, h, w, columns, pad, rows, cols):
    m = feature_mosaic(np.random.rand(c, h, w).astype(np.float32), columns=columns, pad=pad)
    assert (m.rows, m.cols, m.tile_h, m.tile_w, m.pad, m.channels) == (rows, cols, h, w, pad, c)
    assert m.image.shape == (rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad)
    assert m.image.dtype == np.float32 and m.image.min() >= 0 and m.image.max() <= 1


def test_tiles_hold_their_channels_and_padding_is_not_a_channel():
    act = torch.arange(6 * 3 * 4, dtype=torch.float32).reshape(6, 3, 4)
    m = feature_mosaic(act, scaling="layer", columns=4, pad=1, pad_value=0.0)
    expected = (act / act.max()).numpy()
    for k in range(6):
        assert np.allclose(m.tile(k), expected[k])
    assert m.channel_at(4, 0) is None  # the padding column after tile 0
    assert m.channel_at(0, 3) is None  # the padding row
    assert m.channel_at(2 * 5 + 1, 4 + 1) is None  # tile 6 of a 4x2 grid does not exist (only 6 channels)
    assert m.channel_at(-1, 0) is None and m.channel_at(0, 10_000) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 9), st.one_of(st.none(), st.integers(1, 12)),
       st.integers(0, 3))
def test_channel_at_round_trip(c, h, w, columns, pad):
    m = feature_mosaic(np.random.rand(c, h, w), columns=columns, pad=pad)
    for k in range(c):
        x, y, tw, th = m.tile_rect(k)
        assert (tw, th) == (w, h)
        assert m.channel_at(x, y) == k and m.channel_at(x + w - 1, y + h - 1) == k
    assert m.channel_at(m.image.shape[1], 0) is None


def test_channel_scaling_stretches_each_channel_layer_scaling_keeps_ratios():
    act = np.stack([np.linspace(0, 1, 16).reshape(4, 4), np.linspace(0, 100, 16).reshape(4, 4),
                    np.full((4, 4), 5.0)]).astype(np.float32)
    per_channel = feature_mosaic(act, scaling="channel", columns=3, pad=0)
    assert np.isclose(per_channel.tile(0).max(), 1) and np.isclose(per_channel.tile(1).max(), 1)
    assert np.all(per_channel.tile(2) == 0)  # a constant channel is flat, not NaN
    per_layer = feature_mosaic(act, scaling="layer", columns=3, pad=0)
    assert per_layer.tile(0).max() <= 0.011 and np.isclose(per_layer.tile(1).max(), 1)
    with pytest.raises(ValueError, match="scaling"):
        feature_mosaic(act, scaling="banana")


def test_nan_and_inf_do_not_poison_the_mosaic():
    act = np.random.rand(2, 4, 4).astype(np.float32)
    act[0, 0, 0], act[1, 1, 1] = np.nan, np.inf
    m = feature_mosaic(act)
    assert np.isfinite(m.image).all()


def test_vectors_and_pooled_maps_become_strips():
    v = vector_image(np.array([-1.0, 0.0, 1.0]), height=4)
    assert v.shape == (4, 3) and v.dtype == np.float32
    assert np.allclose(v[0], [0, 0.5, 1]) and np.array_equal(v[0], v[3])
    for act in (np.arange(7, dtype=np.float32), np.arange(7, dtype=np.float32).reshape(7, 1, 1)):
        m = feature_mosaic(act)
        assert m.image.shape == (1, 7) and (m.rows, m.cols, m.channels) == (1, 7, 7)
        assert m.channel_at(5, 0) == 5


def test_to_rgb8_uses_the_colormap():
    img = np.array([[0.0, 1.0]], np.float32)
    viridis = to_rgb8(img)
    assert viridis.shape == (1, 2, 3) and viridis.dtype == np.uint8
    assert tuple(viridis[0, 0]) == (68, 1, 84) and tuple(viridis[0, 1]) == (253, 231, 37)
    gray = to_rgb8(img, "gray")
    assert tuple(gray[0, 0]) == (0, 0, 0) and tuple(gray[0, 1]) == (255, 255, 255)
    with pytest.raises(ValueError, match="colormap"):
        to_rgb8(img, "not-a-colormap")


# ---- statistics -----------------------------------------------------------------------------------------

def test_layer_stats_on_known_arrays():
    act = np.zeros((4, 2, 2), np.float32)
    act[0] = 1.0
    act[1, 0, 0] = -3.0
    s = layer_stats(act)
    assert s["min"] == -3.0 and s["max"] == 1.0
    assert np.isclose(s["mean"], (4 * 1.0 - 3.0) / 16)
    assert np.isclose(s["std"], np.std(act))
    assert np.isclose(s["zeros_fraction"], 11 / 16)
    assert np.isclose(s["dead_fraction"], 2 / 4)  # channels 2 and 3 are zero everywhere
    v = layer_stats(torch.tensor([0.0, 2.0, 0.0, -1.0]))
    assert np.isclose(v["dead_fraction"], 0.5) and np.isclose(v["zeros_fraction"], 0.5)
    assert all(isinstance(x, float) for x in v.values())


# ---- filters --------------------------------------------------------------------------------------------

def test_first_conv_filters_mosaic():
    model = build_model(ModelSpec("cnn", 3, 3, 32, {"channels": 16}))
    img = first_layer_filters(model)
    assert img.dtype == np.uint8 and img.shape == (4 * 3 + 3, 4 * 3 + 3, 3)  # 16 filters of 3x3, 4x4 grid
    first = img[:3, :3].astype(int)
    assert first.min() == 0 or first.max() == 255  # each filter scaled to its own largest |weight|
    with torch.no_grad():
        model.features[0].weight[0].zero_()
        model.features[0].weight[1].fill_(-1.0)
    zeroed = first_layer_filters(model)
    assert (zeroed[:3, :3] == 128).all() and (zeroed[:3, 4:7] == 0).all()  # 0 is mid-grey, -max black
    big = first_layer_filters(model, scale=4)
    assert big.shape == (4 * 12 + 3, 4 * 12 + 3, 3)
    resnet = first_layer_filters(build_model(ModelSpec("resnet18", 2, 3, 64)))
    assert resnet.shape == (8 * 7 + 7, 8 * 7 + 7, 3)


def test_grayscale_model_has_gray_filters():
    img = first_layer_filters(build_model(ModelSpec("cnn", 3, 1, 32)))
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_mlp_first_layer_as_image_templates_or_none():
    mlp = build_model(ModelSpec("mlp", 3, 3, 8, {"hidden": [20]}))
    img = first_layer_filters(mlp)
    assert img.shape == (4 * 8 + 3, 5 * 8 + 4, 3)  # 20 templates of 8x8: 4 rows of 5
    odd = nn.Sequential(nn.Linear(10, 4), nn.ReLU(), nn.Linear(4, 2))  # not an image: no templates
    assert first_layer_filters(odd) is None


@pytest.mark.parametrize("c,columns,pad", [(6, 4, 1), (7, 3, 2), (4, 2, 0), (5, None, 3)])
def test_every_pixel_outside_the_tiles_is_padding(c, columns, pad):
    m = feature_mosaic(np.random.rand(c, 5, 6).astype(np.float32), columns=columns, pad=pad, pad_value=0.25)
    in_tile = np.zeros(m.image.shape, bool)
    for k in range(c):
        x, y, w, h = m.tile_rect(k)
        in_tile[y:y + h, x:x + w] = True
    assert np.all(m.image[~in_tile] == 0.25)
    assert np.all((m.image[in_tile] >= 0) & (m.image[in_tile] <= 1))
