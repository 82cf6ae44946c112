"""Parallel coordinates over many runs: axes of the right kind, and brushing selects the runs brushed."""
import math

import pytest

from core.tuning.coordinates import brushed, build_axes, positions

RUNS = [
    {"trial": 0, "lr": 1e-4, "optimizer": "adam", "batch_size": 16, "value": 0.61},
    {"trial": 1, "lr": 1e-3, "optimizer": "adam", "batch_size": 32, "value": 0.88},
    {"trial": 2, "lr": 1e-2, "optimizer": "sgd", "batch_size": 64, "value": 0.74},
    {"trial": 3, "lr": 1e-1, "optimizer": "sgd", "batch_size": 16, "value": None},  # pruned: no score
]


def test_axes_take_the_kind_their_values_call_for():
    axes = {a.name: a for a in build_axes(RUNS, ["lr", "optimizer", "batch_size", "value", "absent"])}
    assert axes["lr"].kind == "log" and axes["optimizer"].kind == "category"
    assert axes["batch_size"].kind == "linear" and axes["value"].kind == "linear"
    assert "absent" not in axes  # no run has a value for it
    assert axes["lr"].position(1e-3) == pytest.approx(1 / 3)  # evenly spaced decades
    assert axes["optimizer"].categories == ("adam", "sgd") and axes["optimizer"].position("sgd") == 1.0
    assert axes["lr"].value_at(2 / 3) == pytest.approx(1e-2)
    where = positions(RUNS, list(axes.values()))
    assert where.shape == (4, 4) and math.isnan(where[3, 3])


def test_brushing_selects_the_runs_whose_lines_pass_through_every_range():
    axes = build_axes(RUNS, ["lr", "optimizer", "batch_size", "value"])
    assert brushed(RUNS, axes, {}) == [0, 1, 2, 3]
    assert brushed(RUNS, axes, {"lr": (0.2, 0.7)}) == [1, 2]  # 1e-3 and 1e-2
    assert brushed(RUNS, axes, {"lr": (0.7, 0.2), "optimizer": (0.9, 1.0)}) == [2]  # either order; sgd only
    assert brushed(RUNS, axes, {"value": (0.0, 1.0)}) == [0, 1, 2]  # a run with no score is not brushed
    assert brushed(RUNS, axes, {"batch_size": (0.0, 0.1)}) == [0, 3]  # batch 16
    assert brushed(RUNS, axes, {"batch_size": (0.0, 0.1), "value": (0.0, 0.5)}) == [0]  # ... and a low score


def test_run_rows_keep_the_settings_that_vary_and_the_metrics():
    from core.tuning.run_rows import run_rows

    base = {"model_name": "cnn", "train": {"lr": 0.01, "optimizer": "adam", "device": "cpu", "pin": True},
            "data": {"root": "/a", "image_size": 16}}
    other = {"model_name": "cnn", "train": {"lr": 0.1, "optimizer": "sgd", "device": "cuda", "pin": True},
             "data": {"root": "/b", "image_size": 16}}
    rows, varying, metrics = run_rows([("a", base, {"best_val_acc": 0.5}), ("b", other, {"best_val_acc": 0.7})])
    assert varying == ["train.lr", "train.optimizer"]  # device and the data's folder are not axes
    assert metrics == ["best_val_acc"]
    assert rows[1]["path"] == "b" and rows[1]["train.lr"] == 0.1 and rows[1]["train.pin"] == "true"
