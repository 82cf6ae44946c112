"""TensorBoard files, read back with tensorboard's own reader: every epoch's validation accuracy is there."""
import json

import pytest

from core.runs import records
from core.cli.main import main

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def scalars(log_dir, tag):
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {e.step: e.value for e in acc.Scalars(tag)}


def fake_run(folder, epochs=4):
    folder.mkdir()
    lines = [records.make("start", epochs=epochs, start_epoch=0, batches_per_epoch=2, total_steps=2 * epochs)]
    for e in range(1, epochs + 1):
        lines += [records.make("step", step=2 * e - 1, loss=1.0 / e, lr=0.1), records.make("step", step=2 * e, loss=float("nan"))]
        lines.append(records.make("epoch", epoch=e, step=2 * e, val_loss=1.0 / e, val_acc=0.2 * e))
    text = "".join(records.encode(r) + "\n" for r in lines) + "garbage line\n" + json.dumps({"kind": "step"})[:5]
    (folder / "metrics.jsonl").write_text(text)
    return folder


def test_export_existing_runs_has_every_epochs_val_acc(tmp_path, capsys):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b", epochs=2)
    assert main(["export-tensorboard", str(a), str(b), "--out", str(tmp_path / "tb")]) == 0
    assert scalars(tmp_path / "tb" / "a", "epoch/val_acc") == pytest.approx({1: 0.2, 2: 0.4, 3: 0.6, 4: 0.8})
    assert scalars(tmp_path / "tb" / "b", "epoch/val_acc") == pytest.approx({1: 0.2, 2: 0.4})
    assert sorted(scalars(tmp_path / "tb" / "a", "train/loss")) == [1, 3, 5, 7]  # NaN losses are left out
    assert "1 unreadable lines skipped" in capsys.readouterr().out


def test_export_of_a_folder_without_metrics_says_so(tmp_path, capsys):
    assert main(["export-tensorboard", str(tmp_path)]) == 1
    assert "no metrics.jsonl" in capsys.readouterr().err


def test_train_with_tensorboard_writes_during_the_run(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--shapes-count", "32", "--image-size", "16", "--batch-size", "16", "--epochs", "2",
                 "--option", "channels=4", "--device", "cpu", "--quiet", "--tensorboard", "--out", str(out)]) == 0
    epochs = [r for r in map(records.decode, (out / "metrics.jsonl").read_text().splitlines()) if r.kind == "epoch"]
    got = scalars(out / "tensorboard", "epoch/val_acc")
    assert got == pytest.approx({r["epoch"]: r["val_acc"] for r in epochs}) and sorted(got) == [1, 2]


def test_a_resumed_runs_live_sink_shows_each_step_once(tmp_path):
    """A run killed after its checkpoint at step 3 wrote steps 4-6; the resumed run writes them again."""
    from core.training.tensorboard import TensorBoardSink

    start = dict(epochs=1, start_epoch=0, batches_per_epoch=8, total_steps=8)
    killed = TensorBoardSink(tmp_path / "tb")
    for record in [records.make("start", **start), *[records.make("step", step=s, loss=1.0) for s in range(1, 7)]]:
        killed(record)
    killed.close()
    resumed = TensorBoardSink(tmp_path / "tb")
    for record in [records.make("resume", epoch=0, step=3), records.make("start", **start),
                   *[records.make("step", step=s, loss=2.0) for s in range(4, 9)]]:
        resumed(record)
    resumed.close()
    assert scalars(tmp_path / "tb", "train/loss") == {1: 1.0, 2: 1.0, 3: 1.0, 4: 2.0, 5: 2.0, 6: 2.0, 7: 2.0, 8: 2.0}
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(1, 9))  # once each, in order
