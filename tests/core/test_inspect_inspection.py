"""inspect_image (the one call behind the GUI inspector and the CLI) and inspect_to_folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core.checkpoints.checkpoint import CheckpointError, checkpoint_from_model, save_checkpoint
from core.data.shapes import SHAPE_CLASSES, make_shapes
from core.data.transforms import Preprocess
from core.io.images import ImageLoadError
from core.inspect import Inspection, inspect_image, list_layers
from core.inspect.report import inspect_to_folder
from core.models import ModelSpec, build_model
from core.checkpoints.predict import Predictor


def _predictor(name: str, size: int, channels: int = 3) -> Predictor:
    torch.manual_seed(0)
    model = build_model(ModelSpec(name, 5, channels, size))
    pre = Preprocess(image_size=size, channels=channels, mean=(0.5,) * channels, std=(0.25,) * channels)
    return Predictor(model, list(SHAPE_CLASSES), pre)


def _photo(w=90, h=60) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("name,size", [("mlp", 32), ("cnn", 64), ("resnet18", 64)])
def test_inspect_image_prediction_layers_and_model_view(name, size):
    predictor = _predictor(name, size)
    predictor.model.train()
    image = _photo()
    result = inspect_image(predictor, image, top_k=3)
    assert isinstance(result, Inspection)
    assert predictor.model.training  # left in the mode it was in

    # The prediction equals the Predictor's own, so one forward pass really gave both.
    predictor.model.eval()
    expected = predictor.classify(image, top_k=3)
    assert [l for l, _ in result.prediction] == [l for l, _ in expected]
    assert np.allclose([p for _, p in result.prediction], [p for _, p in expected], atol=1e-5)
    assert result.probabilities.shape == (5,) and np.isclose(result.probabilities.sum(), 1, atol=1e-5)

    # The model's view: resized and centre-cropped to S x S, un-normalised back to the photo's colours.
    assert result.input_image.shape == (size, size, 3) and result.input_image.dtype == np.uint8
    x = predictor.to_input(image)[0]
    back = torch.from_numpy(result.input_image).permute(2, 0, 1).float() / 255
    assert torch.allclose(back, x * 0.25 + 0.5, atol=1 / 255 + 1e-6)

    layers = list_layers(predictor.model, (3, size, size))
    assert [v.name for v in result.layers] == [l.name for l in layers]
    for view, layer in zip(result.layers, layers):
        assert view.shape == layer.output_shape and view.type == layer.type
        assert set(view.stats) == {"mean", "std", "min", "max", "zeros_fraction", "dead_fraction"}
        img = view.mosaic.image
        assert img.dtype == np.float32 and img.ndim == 2 and 0 <= img.min() and img.max() <= 1
        assert view.mosaic.channels == (view.shape[0] if len(view.shape) == 3 and view.shape[1:] != (1, 1)
                                        else int(np.prod(view.shape)))
        assert np.isclose(view.stats["max"], view.activation.max())


def test_inspect_named_layers_and_layer_scaling():
    predictor = _predictor("cnn", 32)
    result = inspect_image(predictor, _photo(), layers=["features.0", "features.2"], scaling="layer")
    assert [v.name for v in result.layers] == ["features.0", "features.2"]
    assert result.layer("features.2").stats["min"] >= 0  # after ReLU
    relu = result.layer("features.2")
    # Layer scaling: the brightest pixel of the mosaic is the layer's maximum, and tiles keep their ratios.
    assert np.isclose(relu.mosaic.image.max(), 1.0)
    with pytest.raises(KeyError):
        result.layer("nope")


def test_grayscale_model_view_is_rgb():
    predictor = _predictor("cnn", 32, channels=1)
    result = inspect_image(predictor, _photo())
    assert result.input_image.shape == (32, 32, 3)
    assert np.array_equal(result.input_image[..., 0], result.input_image[..., 2])


# ---- checkpoints and the folder report -----------------------------------------------------------------

@pytest.fixture()
def shapes_checkpoint(tmp_path):
    def make(name: str, size: int = 32):
        torch.manual_seed(0)
        spec = ModelSpec(name, 5, 3, size)
        ckpt = checkpoint_from_model(build_model(spec), spec, SHAPE_CLASSES, Preprocess(image_size=size))
        return save_checkpoint(ckpt, tmp_path / f"{name}.pt")
    return make


@pytest.fixture()
def shape_image(tmp_path):
    images, _ = make_shapes(1, 48, seed=3)
    path = tmp_path / "shape.png"
    Image.fromarray(images[0]).save(path)
    return path


def test_inspect_from_a_checkpoint(shapes_checkpoint, shape_image):
    from core.io.images import load_image

    predictor = Predictor.from_checkpoint(shapes_checkpoint("cnn"))
    result = inspect_image(predictor, load_image(shape_image))
    assert len(result.prediction) == 5 and result.layers[0].shape == (16, 32, 32)


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_inspect_to_folder_writes_every_file(tmp_path, shapes_checkpoint, shape_image, name):
    out = tmp_path / "report"
    summary = inspect_to_folder(shapes_checkpoint(name), shape_image, out)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary
    assert [p["label"] for p in summary["prediction"]][0] in SHAPE_CLASSES
    assert {"input", "filters", "saliency"} <= set(summary["files"])
    for key in ("input.png", "filters.png", "saliency.png"):
        with Image.open(out / key) as img:
            assert img.mode == "RGB" and img.size[0] >= 32
    for layer in summary["layers"]:
        assert set(layer) >= {"name", "type", "output_shape", "stats", "file"}
        with Image.open(out / layer["file"]) as img:
            assert img.mode == "RGB"
    assert len(summary["layers"]) == len(list((out / "layers").glob("*.png")))
    method = summary["saliency"]["method"]
    assert method.startswith("grad-cam") if name == "cnn" else method == "gradient saliency"
    assert summary["saliency"]["target"] == summary["prediction"][0]["label"]


def test_inspect_to_folder_target_and_errors(tmp_path, shapes_checkpoint, shape_image):
    ckpt = shapes_checkpoint("cnn")
    by_name = inspect_to_folder(ckpt, shape_image, tmp_path / "a", target="star")
    assert by_name["saliency"]["target_index"] == SHAPE_CLASSES.index("star")
    assert inspect_to_folder(ckpt, shape_image, tmp_path / "b", target=1)["saliency"]["target"] == "square"
    with pytest.raises(ValueError, match="unknown target class 'hexagon'"):
        inspect_to_folder(ckpt, shape_image, tmp_path / "c", target="hexagon")
    with pytest.raises(ValueError, match="outside"):
        inspect_to_folder(ckpt, shape_image, tmp_path / "c", target=7)
    with pytest.raises(ValueError, match="feature maps"):
        inspect_to_folder(ckpt, shape_image, tmp_path / "c", cam_layer="classifier.2")
    with pytest.raises(ImageLoadError):
        inspect_to_folder(ckpt, tmp_path / "missing.png", tmp_path / "c")
    with pytest.raises(CheckpointError):
        inspect_to_folder(tmp_path / "missing.pt", shape_image, tmp_path / "c")


def test_cli_inspect(tmp_path, shapes_checkpoint, shape_image, capsys):
    from core.cli.main import main

    out = tmp_path / "cli"
    assert main(["inspect", "--checkpoint", str(shapes_checkpoint("cnn")), "--out", str(out), str(shape_image)]) == 0
    assert (out / "summary.json").exists() and (out / "saliency.png").exists()
    assert "wrote" in capsys.readouterr().out
    code = main(["inspect", "--checkpoint", str(shapes_checkpoint("cnn")), "--out", str(out),
                 str(tmp_path / "nope.jpg")])
    assert code != 0 and "does not exist" in capsys.readouterr().err


def test_a_diverged_model_still_gives_strict_json(tmp_path, shape_image):
    spec = ModelSpec("cnn", 5, 3, 32)
    model = build_model(spec)
    with torch.no_grad():
        model.features[0].weight[0].fill_(float("nan"))  # one poisoned channel, as after a blown-up run
    path = save_checkpoint(checkpoint_from_model(model, spec, SHAPE_CLASSES, Preprocess(image_size=32)),
                           tmp_path / "nan.pt")
    summary = inspect_to_folder(path, shape_image, tmp_path / "out")
    text = (tmp_path / "out" / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert summary["layers"][0]["stats"]["mean"] is None

    from core.cli.main import main

    assert main(["inspect", "--checkpoint", str(path), "--out", str(tmp_path / "cli"), str(shape_image)]) == 0


def test_unusual_layer_outputs_still_inspect():
    # A [C, L] output per sample (as sequence models give) and a flattened vector: no crash, sane views.
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(2), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 14 * 14, 5))
    pre = Preprocess(image_size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    result = inspect_image(Predictor(model, list(SHAPE_CLASSES), pre), _photo())
    seq = result.layer("1")
    assert seq.shape == (4, 196) and seq.mosaic.channels == 1 and seq.mosaic.image.shape == (4, 196)
    assert result.layer("2").mosaic.image.shape == (1, 4 * 196)
