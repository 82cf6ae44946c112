"""Export: each format reproduces the model at any batch size; a broken export fails loudly; the README's
plain-torchvision snippet loads a Layerscope checkpoint with no Layerscope at all."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.checkpoints.checkpoint import checkpoint_from_model, load_checkpoint, save_checkpoint
from core.cli.main import main
from core.data.transforms import Preprocess
from core.evaluate.export import ExportError, export_checkpoint
from core.models import ModelSpec, build_model
from tests.core.evalkit import train_tiny_run
from tests.support.photos import photo

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("run"), epochs=1, image_size=32, evaluate_at_end=False)


def test_onnx_export_matches_on_real_images_at_any_batch_size(run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    assert main(["export", "--checkpoint", str(run / "best.pt"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "shapes (val)" in out and "top-1 agreement 100.0%" in out
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)
        assert session.run(None, {"input": x})[0].shape == (batch, 5)
    assert "classes" in (tmp_path / "m.onnx.json").read_text()


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
def test_torch_formats_verify(run, tmp_path, fmt):
    report = export_checkpoint(run / "best.pt", fmt, tmp_path / f"m.{fmt}")
    assert report.top1_agreement == 1.0 and report.max_abs_diff < 1e-4 and report.images == 32


def test_a_disagreeing_export_fails_and_leaves_no_file(run, tmp_path, monkeypatch):
    import core.evaluate.export as export

    real = export.EXPORTERS["pt2"]

    def broken(model, example, out):
        run_it = real(model, example, out)
        return lambda x: run_it(x) + 1.0  # a constant shift: argmax agrees, the values do not

    monkeypatch.setitem(export.EXPORTERS, "pt2", broken)
    with pytest.raises(ExportError, match="does not reproduce"):
        export_checkpoint(run / "best.pt", "pt2", tmp_path / "m.pt2")
    assert not (tmp_path / "m.pt2").exists()


def _readme_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- snippet: plain-torchvision -->\s*```python\n(.*?)```", text, re.S)
    assert block, "README lost its plain-torchvision snippet"
    return block.group(1)


def test_readme_snippet_loads_a_checkpoint_into_plain_torchvision(tmp_path):
    spec = ModelSpec("mobilenet_v3_small", 3, 3, 64, {})
    model = build_model(spec, load_weights=False).eval()
    pre = Preprocess(image_size=64, channels=3, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))
    save_checkpoint(checkpoint_from_model(model, spec, ["a", "b", "c"], pre), tmp_path / "best.pt")
    photo(0).save(tmp_path / "image.jpg", quality=90)  # 480 x 360: decoded at reduced scale, as Layerscope does
    # Layerscope made unimportable: the snippet must stand on torch + torchvision alone.
    code = "import sys\nsys.modules['core'] = None\nsys.modules['gui'] = None\n" + _readme_snippet()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    label, prob = done.stdout.split()
    from core.checkpoints.predict import Predictor

    (expected,) = Predictor.from_checkpoint(load_checkpoint(tmp_path / "best.pt")).classify_files(
        [tmp_path / "image.jpg"], top_k=1)
    assert label == expected.top[0][0] and float(prob) == pytest.approx(expected.top[0][1], abs=1e-5)

