"""A loss that turns NaN or explodes ends the run as "diverged" (non-zero exit, recorded as such), with a
learning rate to try that is known to be safe, never "done" with exit 0."""
import json
import math

import pytest

from core.cli.main import main
from core.exit_codes import DIVERGED as EXIT_DIVERGED
from core.training.config import TrainConfig
from core.training.errors import TrainingDiverged
from core.training.guards import check_divergence

DEFAULT_LR = TrainConfig().lr


@pytest.mark.parametrize("lr, suggested", [(1e6, DEFAULT_LR), (0.5, DEFAULT_LR), (1e-3, 1e-5)])
def test_nan_advice_suggests_a_rate_known_to_be_safe_and_to_check_the_data(lr, suggested):
    with pytest.raises(TrainingDiverged) as err:
        check_divergence([(7, math.nan)], 1.6, 1, lr)
    message = str(err.value)
    assert f"--lr {suggested:g}" in message and "check the data" in message and "step 7" in message


@pytest.mark.parametrize("losses, reference", [([(3, 3e9)], None), ([(9, 2000.0)], 1.6), ([(9, 1e7)], 5e5)])
def test_an_exploding_loss_is_divergence(losses, reference):
    with pytest.raises(TrainingDiverged, match="diverged"):
        check_divergence(losses, reference, 2, 0.1)


def test_a_loss_that_only_wobbles_is_not_divergence():
    check_divergence([(1, 1.6), (2, 40.0), (3, 0.01)], 1.6, 1, 0.1)
    check_divergence([(1, 500.0)], 0.001, 3, 1e-4)  # a fine-tuned model starting near 0 (floor of 1.0)


def test_a_diverging_run_exits_non_zero_and_is_recorded_as_diverged(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--shapes-count", "64", "--image-size", "16", "--epochs", "2", "--batch-size", "16",
               "--model", "mlp", "--hidden", "8", "--optimizer", "sgd", "--lr", "10", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == EXIT_DIVERGED and "done" not in captured.out
    assert "diverged" in captured.err and f"--lr {DEFAULT_LR:g}" in captured.err and "Traceback" not in captured.err
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "diverged" and "learning rate" in last["message"]
