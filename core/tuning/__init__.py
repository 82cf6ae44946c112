"""Tuning without guessing: the learning-rate finder (core.tuning.lr) and sweeps on Optuna (core.tuning.sweep),
plus the columns of a parallel-coordinates view over many runs (core.tuning.coordinates)."""
