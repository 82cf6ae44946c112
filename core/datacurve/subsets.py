"""Nested, stratified, seeded subsets of a training split: each class is shuffled once (by the seed) and
every fraction takes the first ceil(f * n_c) of it (at least one), so a smaller subset is always inside a
larger one and every class keeps its share."""
from __future__ import annotations

import math

import numpy as np


def nested_subsets(labels, fractions, seed: int = 0) -> dict[float, np.ndarray]:
    """fraction -> sorted row indices into `labels`. Fractions in (0, 1]."""
    labels = np.asarray(labels, dtype=np.int64)
    for f in fractions:
        if not 0 < f <= 1:
            raise ValueError(f"a fraction must be in (0, 1], got {f}")
    rng = np.random.default_rng(seed)
    orders = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    out = {}
    for f in sorted(set(float(x) for x in fractions)):
        rows = [order[:max(1, math.ceil(f * len(order)))] for order in orders.values()]
        out[f] = np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
    return out


def per_class_counts(labels, rows: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(np.asarray(labels)[rows], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def parse_fractions(text: str) -> list[float]:
    """'0.1,0.25,50%,1' -> [0.1, 0.25, 0.5, 1.0] (ValueError naming the bad part)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        value = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        if not 0 < value <= 1:
            raise ValueError(f"{part!r}: a fraction must be in (0, 1] (or a percentage up to 100%)")
        out.append(value)
    if len(out) < 2:
        raise ValueError("give at least two fractions, for example 0.1,0.25,0.5,1")
    return sorted(set(out))
