"""Issue 12, finding 2 (CLI side): predict streams one line per image, so one bad file costs one line;
NaN probabilities are null; inspect refuses a FIFO; `dataset` never prints a traceback."""
import json
import math

import pytest
import torch

from core.checkpoints.checkpoint import checkpoint_from_model, save_checkpoint
from core.cli.main import main
from core.data.transforms import Preprocess
from core.models import ModelSpec, build_model
from tests.core import hostile_files as hf

pytestmark = pytest.mark.timeout(60)  # a FIFO opened by mistake would block forever


def _checkpoint(tmp_path, nan: bool = False):
    spec = ModelSpec("mlp", 2, 3, 16, {"hidden": [8]})
    torch.manual_seed(0)
    model = build_model(spec)
    if nan:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(math.nan)
    return str(save_checkpoint(checkpoint_from_model(model, spec, ["a", "b"], Preprocess(16)), tmp_path / "m.pt"))


def test_predict_json_lines_one_per_image_bad_files_cost_their_line_only(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path)
    good1, good2 = hf.small_png(tmp_path / "g1.png", 10), hf.small_png(tmp_path / "g2.png", 200)
    inputs = [good1, hf.fifo(tmp_path / "f.png"), hf.wide_png(tmp_path / "wide.png"),
              hf.symlink_loop(tmp_path / "loop.png"), good2]
    assert main(["predict", "--checkpoint", ckpt, "--json", "--top-k", "2", *map(str, inputs)]) == 1
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]  # JSON Lines: every line parses alone
    assert [line["path"] for line in lines] == [str(p) for p in inputs]
    assert [("predictions" in line, "error" in line) for line in lines] == \
        [(True, False), (False, True), (False, True), (False, True), (True, False)]
    assert "FIFO" in lines[1]["error"] and "1000000 x 1 px" in lines[2]["error"] and "loop" in lines[3]["error"]
    assert len(lines[0]["predictions"]) == 2 and "f.png" in err and "Traceback" not in err


def test_predict_text_output_is_one_line_per_image(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path)
    good = hf.small_png(tmp_path / "g.png")
    assert main(["predict", "--checkpoint", ckpt, str(hf.fifo(tmp_path / "f.png")), str(good)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith(f"{tmp_path / 'f.png'}: ERROR") and out[1].startswith(f"{good}: ")


def test_predict_json_turns_a_nan_model_into_null_not_nan(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path, nan=True)
    assert main(["predict", "--checkpoint", ckpt, "--json", str(hf.small_png(tmp_path / "g.png"))]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out
    [line] = [json.loads(s) for s in out.splitlines()]
    assert [p["prob"] for p in line["predictions"]] == [None, None]


def test_inspect_refuses_a_fifo(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path)
    assert main(["inspect", "--checkpoint", ckpt, "--out", str(tmp_path / "o"), str(hf.fifo(tmp_path / "f.png"))]) == 2
    assert "FIFO" in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["empty", "one_class", "no_images"])
def test_dataset_on_unusable_folders_says_why_without_a_traceback(tmp_path, capsys, layout):
    root = tmp_path / "data"
    root.mkdir()
    if layout == "one_class":
        (root / "cats").mkdir()
        hf.small_png(root / "cats" / "a.png")
    elif layout == "no_images":
        for cls in ("cats", "dogs"):
            (root / cls).mkdir()
            (root / cls / "notes.txt").write_text("no pictures here")
    assert main(["dataset", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("layerscope dataset: ") and str(root) in err and "Traceback" not in err
