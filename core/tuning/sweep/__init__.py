"""Sweeps on Optuna: a definition (spec), the settings it may vary (space), the study (study), one trial as an
ordinary run in its own process (trial), the worker loop (runner) and the results table (results); the sweep
folder's files are named in core.runs.layout (SweepLayout).

    spec = load_spec("sweep.json")
    outcome = run_sweep(spec, "runs/my-sweep", trials=12, parallel=2)     # `layerscope sweep` (core/cli/sweep.py)
    outcome.best, outcome.rows, outcome.files
"""
from core.tuning.sweep.runner import SweepOutcome, run_sweep
from core.tuning.sweep.space import SweepSpecError
from core.tuning.sweep.spec import SweepSpec, load_spec
from core.tuning.sweep.study import SweepStudyError

__all__ = ["SweepOutcome", "SweepSpec", "SweepSpecError", "SweepStudyError", "load_spec", "run_sweep"]
