"""Which pool images to label first (numpy only: 10,000 images rank in well under a second once their
probabilities and features exist).

- uncertainty: 1 - (p1 - p2), the margin between the two best classes (entropy is offered too);
- familiarity: 1 - familiarity, the images least like the training images first;
- diverse: greedy k-centre on the normalised features among the most uncertain candidates, so a batch is
  not twenty near-duplicates (an exact copy of a picked image is never picked);
- random: a seeded shuffle (the baseline every active-learning claim is measured against).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRATEGIES = ("uncertainty", "diverse", "familiarity", "random")
CANDIDATES_PER_PICK = 10  # diverse: k-centre runs over the 10 n most uncertain images
SAME_IMAGE = 1e-6  # cosine distance under which two feature rows are the same picture


@dataclass
class Ranked:
    index: int  # row in the pool
    score: float  # higher = label sooner
    reason: str


def margin_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """1 - (best - second best): 1 for a 50/50 guess, near 0 for a sure one."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """The entropy of the guess, divided by its largest possible value (in [0, 1])."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    k = p.shape[1]
    return -(p * np.log(p)).sum(axis=1) / np.log(k) if k > 1 else np.zeros(len(p))


def _unit_rows(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def k_centre(features: np.ndarray, n: int, first: int = 0) -> list[int]:
    """Greedy k-centre: start at `first`, then always the row farthest from every row picked so far. Stops
    early when only copies of picked rows are left."""
    x = _unit_rows(features)
    if len(x) == 0 or n <= 0:
        return []
    picked = [int(first)]
    nearest = 1.0 - x @ x[first]
    while len(picked) < min(n, len(x)):
        far = int(np.argmax(nearest))
        if nearest[far] <= SAME_IMAGE:
            break
        picked.append(far)
        np.minimum(nearest, 1.0 - x @ x[far], out=nearest)
    return picked


def _torn_reason(probabilities: np.ndarray, row: int, classes: list[str]) -> str:
    order = np.argsort(-probabilities[row])
    if len(order) < 2:
        return "the only class"
    a, b = order[0], order[1]
    return (f"torn between {classes[a]} ({probabilities[row, a]:.0%}) "
            f"and {classes[b]} ({probabilities[row, b]:.0%})")


def rank(probabilities: np.ndarray, features: np.ndarray | None, classes: list[str], *,
         strategy: str = "uncertainty", n: int = 100, familiarity: np.ndarray | None = None,
         measure: str = "margin", seed: int = 0) -> list[Ranked]:
    """The first `n` pool rows to label under `strategy`, best first, each with its score and reason."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    count = len(probabilities)
    n = max(0, min(int(n), count))
    uncertain = entropy_uncertainty(probabilities) if measure == "entropy" else margin_uncertainty(probabilities)
    if strategy == "random":
        rows = np.random.default_rng(seed).permutation(count)[:n]
        return [Ranked(int(r), float(n - i) / max(n, 1), "picked at random") for i, r in enumerate(rows)]
    if strategy == "familiarity":
        if familiarity is None:
            raise ValueError("the familiarity strategy needs the checkpoint's feature bank (familiarity unknown)")
        unfamiliar = 1.0 - np.asarray(familiarity, dtype=np.float64)
        rows = np.argsort(-unfamiliar, kind="stable")[:n]
        return [Ranked(int(r), float(unfamiliar[r]), f"unlike the training images (familiarity {1 - unfamiliar[r]:.2f})")
                for r in rows]
    order = np.argsort(-uncertain, kind="stable")
    if strategy == "uncertainty":
        return [Ranked(int(r), float(uncertain[r]), _torn_reason(probabilities, r, classes)) for r in order[:n]]
    if features is None:
        raise ValueError("the diverse strategy needs the pool's features")
    candidates = order[:max(n * CANDIDATES_PER_PICK, n)]
    picked = k_centre(np.asarray(features)[candidates], n, first=0)
    return [Ranked(int(candidates[p]), float(uncertain[candidates[p]]),
                   _torn_reason(probabilities, candidates[p], classes) + "; unlike the others in this batch")
            for p in picked]
