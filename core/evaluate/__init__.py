"""Evaluate a checkpoint on a dataset split: per-image records, confusion, per-class scores, calibration.

Qt-free. `evaluate_checkpoint(ckpt, dataset, split, out)` (run.py) is the one entry point the CLI and GUI use.

This package file imports nothing: reading a saved evaluation (result.py) loads neither torch nor the model
code, and no module of the package imports the package itself (no import cycle). Its public names load on
first use from the module that defines them; code inside core imports the defining module.
"""
from core.lazy import lazy_exports

_EXPORTS = {
    "EvalResult": "core.evaluate.result",
    "load_evaluation": "core.evaluate.result",
    "save_evaluation": "core.evaluate.result",
    "evaluate_checkpoint": "core.evaluate.run",
    "evaluate_model": "core.evaluate.run",
    "predict_probabilities": "core.evaluate.run",
    "EvalData": "core.evaluate.source",
    "EvaluationError": "core.evaluate.source",
    "eval_data": "core.evaluate.source",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
