"""The headless CLI end to end: train -> files in the run dir, resume appends, predict handles bad files."""
import json
import subprocess
import sys


from core.cli.main import main
from tests.conftest import REPO


def train(tmp_path, *extra):
    return main(["train", "--shapes-count", "240", "--epochs", "1", "--model", "mlp", "--hidden", "32",
                 "--out", str(tmp_path / "run"), "--quiet", *extra])


def test_train_writes_a_complete_run_directory(tmp_path, capsys):
    assert train(tmp_path) == 0
    run = tmp_path / "run"
    assert {"config.json", "metrics.jsonl", "last.pt", "best.pt"} <= {p.name for p in run.iterdir()}
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [l for l in lines if l["kind"] == "epoch"]
    assert len(epochs) == 1 and {"epoch", "train_loss", "val_loss", "val_acc"} <= set(epochs[0])
    assert any(l["kind"] == "step" for l in lines)
    config = json.loads((run / "config.json").read_text())
    assert config["model_name"] == "mlp" and config["model_options"]["hidden"] == [32]
    assert "done" in capsys.readouterr().out


def test_resume_continues_in_the_same_run_and_appends(tmp_path):
    assert train(tmp_path) == 0
    assert main(["train", "--resume", str(tmp_path / "run" / "last.pt"), "--epochs", "2", "--quiet"]) == 0
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines if l["kind"] == "epoch"] == [1, 2]


def test_bad_usage_gets_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["train", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--model", "transformer9000", "--shapes-count", "40", "--out", str(tmp_path / "r2")]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_predict_json_reports_each_image_and_fails_on_bad_ones(tmp_path, capsys, shared_data):
    assert train(tmp_path) == 0
    capsys.readouterr()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = shared_data / "loose" / "abeja.jpg"
    gray = shared_data / "loose" / "camera.png"
    rc = main(["predict", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--top-k", "2", "--json",
               str(good), str(bad), str(gray)])
    assert rc == 1
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # JSON Lines
    assert [r["path"] for r in results] == [str(good), str(bad), str(gray)]
    assert len(results[0]["predictions"]) == 2 and {"label", "prob"} <= set(results[0]["predictions"][0])
    assert "error" in results[1] and "corrupt" in results[1]["error"]
    assert "predictions" in results[2]


def test_predict_with_a_bad_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "x.pt"
    ckpt.write_text("hello")
    assert main(["predict", "--checkpoint", str(ckpt), "a.png"]) == 2
    assert "x.pt" in capsys.readouterr().err


def test_layerscope_entry_point_runs_headless():
    out = subprocess.run([sys.executable, "-m", "gui.cli", "predict", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--checkpoint" in out.stdout


def test_train_without_out_writes_under_the_shared_runs_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERSCOPE_RUNS_DIR", str(tmp_path / "runs"))
    assert main(["train", "--shapes-count", "160", "--epochs", "1", "--model", "mlp", "--hidden", "16",
                 "--quiet"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith("_shapes_mlp") and (run / "last.pt").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["val_count"] == 20  # core.catalog.shapes_val_count(160)
