"""Evaluate a checkpoint on a dataset split: per-image records, confusion, per-class scores, calibration.

Qt-free. `evaluate_checkpoint(ckpt, dataset, split, out)` is the one entry point the CLI and GUI use.
"""
from core.evaluate.result import EvalResult, load_evaluation, save_evaluation
from core.evaluate.run import (
           evaluate_checkpoint,
           evaluate_model,
           predict_probabilities,
)
from core.evaluate.source import EvalData, EvaluationError, eval_data

__all__ = ["EvalResult", "EvalData", "EvaluationError", "evaluate_checkpoint", "evaluate_model",
           "predict_probabilities", "eval_data", "load_evaluation", "save_evaluation"]
