"""The data-size curve: nested stratified subsets, the power-law fit and its sentence, and `data-curve`."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.datacurve.budget import MAX_EPOCH_FACTOR, batches_per_epoch, equal_steps, stretched
from core.datacurve.fit import fit_curve, logistic_from_chance, power_law
from core.datacurve.subsets import nested_subsets, parse_fractions, per_class_counts
from core.runs.layout import METRICS
from tests.core.labellingkit import SIZE, write_shapes_dataset


def test_nested_subsets_are_nested_and_stratified():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    subsets = nested_subsets(labels, [0.1, 0.25, 0.5, 1.0], seed=4)
    fractions = sorted(subsets)
    for small, large in zip(fractions, fractions[1:]):
        assert set(subsets[small]) < set(subsets[large])
    assert per_class_counts(labels, subsets[0.1]) == {0: 5, 1: 3, 2: 2}
    assert per_class_counts(labels, subsets[0.5]) == {0: 25, 1: 15, 2: 10}
    assert len(subsets[1.0]) == 100
    assert np.array_equal(nested_subsets(labels, [0.25], seed=4)[0.25], subsets[0.25])  # seeded
    assert not np.array_equal(nested_subsets(labels, [0.25], seed=5)[0.25], subsets[0.25])


def test_every_class_keeps_at_least_one_image():
    subsets = nested_subsets([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0.1])
    assert per_class_counts([0] * 9 + [1], subsets[0.1]) == {0: 1, 1: 1}


def test_fractions_are_parsed_and_checked():
    assert parse_fractions("0.1, 25%,0.5,1") == [0.1, 0.25, 0.5, 1.0]
    for bad in ("0,1", "1.5,1", "0.5"):
        with pytest.raises(ValueError):
            parse_fractions(bad)


def test_a_smaller_fraction_trains_more_epochs_for_the_same_steps():
    from core.training.config import TrainConfig

    full = equal_steps(8, 32, 3000, 3000)
    assert (full.epochs, full.steps) == (8, 8 * 94)
    tenth = equal_steps(8, 32, 300, 3000)
    assert tenth.epochs == 76 and tenth.steps == 76 * 10 and tenth.full_steps == full.steps  # 752 -> 760
    assert equal_steps(8, 32, 10, 3000).epochs == 8 * MAX_EPOCH_FACTOR  # a tiny subset is capped
    config = stretched(TrainConfig(epochs=8, schedule="step", step_size=4, early_stop_patience=2), tenth)
    assert (config.epochs, config.step_size, config.early_stop_patience) == (76, 38, 19)


def test_the_fit_recovers_a_power_law_and_says_it():
    n = np.array([10.0, 25, 50, 100])
    acc = power_law(n, 0.95, 0.8, 0.5)
    fit = fit_curve(n, acc, [2000] * 4, seed=0)
    assert (fit.a, fit.b, fit.c) == pytest.approx((0.95, 0.8, 0.5), rel=1e-3)
    expected = 100 * (power_law(200.0, 0.95, 0.8, 0.5) - power_law(100.0, 0.95, 0.8, 0.5))
    about, low, high = fit.gain(2)
    assert about == pytest.approx(expected, abs=0.1) and low <= about <= high
    assert fit.sentence().startswith(f"doubling the photos would raise accuracy by about {about:g} points (between")
    assert fit.predictions[4] > fit.predictions[2] > fit.measured_max
    assert fit_curve(n[:2], acc[:2]) is None  # two sizes cannot fix three parameters


def test_points_that_start_at_chance_get_the_logistic_form_and_predict_what_the_power_law_misses():
    # Small subsets sit near chance and rise faster and faster in ln n: a power law cannot bend that way.
    n = np.array([24.0, 48, 72, 120])
    true = (0.97, 3.0, np.log(60.0))
    acc = logistic_from_chance(n, *true, 0.2)
    fit = fit_curve(n, acc, [600] * 4, chance=0.2, seed=0)
    assert fit.form == "logistic" and fit.to_dict()["form"] == "logistic" and fit.chance == 0.2
    assert float(fit.at(240.0)) == pytest.approx(logistic_from_chance(240.0, *true, 0.2), abs=0.01)
    power_only = fit_curve(n, acc, chance=None, bootstrap=0)
    assert power_only.form == "power"
    assert abs(float(power_only.at(240.0)) - logistic_from_chance(240.0, *true, 0.2)) > 0.03
    # ... while points on a power law keep the power law even when the logistic may compete
    power_points = power_law(n, 0.95, 0.8, 0.5)
    assert fit_curve(n, power_points, chance=0.2, bootstrap=0).form == "power"


def test_data_curve_writes_one_point_per_fraction_and_a_fit(tmp_path, capsys):
    from core.cli.main import main

    dataset = write_shapes_dataset(tmp_path / "ds", count=60)
    out = tmp_path / "curve"
    assert main(["data-curve", "--dataset", str(dataset), "--image-size", str(SIZE), "--model", "mlp", "--hidden",
                 "16", "--epochs", "1", "--batch-size", "16", "--fractions", "0.25,0.5,1", "--quiet",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "points.csv").open(encoding="utf-8")))
    assert [float(r["fraction"]) for r in rows] == [0.25, 0.5, 1.0]
    assert [int(r["train_images"]) for r in rows] == sorted(int(r["train_images"]) for r in rows)
    steps = {}
    for r in rows:  # each fraction is an ordinary run folder, trained for about the full split's steps
        assert (out / r["run"] / "best.pt").is_file()
        curve = json.loads((out / r["run"] / "config.json").read_text())["data_curve"]
        assert curve["fraction"] == float(r["fraction"]) and curve["budget"] == "equal optimizer steps"
        records = [json.loads(line) for line in (out / r["run"] / METRICS).open(encoding="utf-8")]
        steps[curve["fraction"]] = (max(int(rec.get("step") or 0) for rec in records),
                                    batches_per_epoch(int(r["train_images"]), 16))
        assert steps[curve["fraction"]][0] == curve["steps"] == int(r["steps"]) >= curve["full_steps"]
        assert int(r["epochs"]) == curve["epochs"]
    for taken, per_epoch in steps.values():  # a quarter trains the full run's steps (to within one of its epochs)
        assert steps[1.0][0] <= taken < steps[1.0][0] + per_epoch
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["points"] == 3 and summary["fit"] is not None
    assert set(summary["fit"]["extrapolations"]) == {"2x", "4x"}
    assert summary["sentence"].startswith("doubling the photos would raise accuracy by about")
    assert json.loads((out / "curve.json").read_text())["fit"] == summary["fit"]
    assert (out / "curve.png").is_file() == (summary["plot"] is not None)


def test_a_cancelled_curve_trains_nothing(tmp_path):
    from core.data import DataSpec
    from core.datacurve.runner import run_data_curve
    from core.errors import Cancelled
    from core.progress import Reporter
    from core.training.session import RunSettings

    dataset = write_shapes_dataset(tmp_path / "ds", count=30)
    settings = RunSettings(data=DataSpec(name=str(dataset), image_size=SIZE), model_name="mlp")
    with pytest.raises(Cancelled):
        run_data_curve(settings, tmp_path / "curve", [0.5, 1.0], progress=Reporter(cancel=lambda: True))
    assert not list((tmp_path / "curve").glob("fraction-*"))


def test_fractions_train_side_by_side_in_worker_processes(tmp_path):
    from core.data import DataSpec
    from core.datacurve.runner import auto_workers, run_data_curve
    from core.training.config import TrainConfig
    from core.training.session import RunSettings

    assert auto_workers(4, cores=2) == 1 and auto_workers(4, cores=16) == 4 and auto_workers(2, cores=64) == 2
    dataset = write_shapes_dataset(tmp_path / "ds", count=30)
    settings = RunSettings(data=DataSpec(name=str(dataset), image_size=SIZE), model_name="mlp",
                           model_options={"hidden": [8]}, train=TrainConfig(epochs=1, batch_size=16))
    result = run_data_curve(settings, tmp_path / "curve", [0.5, 1.0], workers=2)
    assert [p.fraction for p in result.points] == [0.5, 1.0]
    assert all((p.run_dir / "best.pt").is_file() for p in result.points)
    assert not (tmp_path / "curve" / ".cancel").exists()
