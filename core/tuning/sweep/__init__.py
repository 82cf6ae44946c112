"""Sweeps on Optuna: a definition (spec), the settings it may vary (space), the study (study), one trial as an
ordinary run in its own process (trial), the worker loop (runner), the results table (results) and a sweep in its
own process as the app starts one (process); the sweep folder's files are named in core.runs.layout (SweepLayout).

    spec = load_spec("sweep.json")
    outcome = run_sweep(spec, "runs/my-sweep", trials=12, parallel=2)     # `layerscope sweep` (core/cli/sweep.py)
    outcome.best, outcome.rows, outcome.files

This package file imports nothing (core.lazy): the definition, the space and the process launcher load without
Optuna (the app's New Sweep dialog reads and checks a definition on its GUI thread); the names below load on first
use from the module that defines them.
"""
from core.lazy import lazy_exports

_EXPORTS = {
    "SweepOutcome": "core.tuning.sweep.runner",
    "run_sweep": "core.tuning.sweep.runner",
    "SweepSpecError": "core.tuning.sweep.space",
    "SweepSpec": "core.tuning.sweep.spec",
    "load_spec": "core.tuning.sweep.spec",
    "SweepStudyError": "core.tuning.sweep.study",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
