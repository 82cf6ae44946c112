"""Keep successive maps still: a similarity transform (rotation or reflection, uniform scale, shift) that
lays a new map over the previous one on the points they share, by orthogonal Procrustes (scipy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import orthogonal_procrustes


@dataclass(frozen=True)
class Similarity:
    rotation: np.ndarray  # [2, 2] orthogonal (a reflection included: PCA's signs are arbitrary)
    scale: float
    shift: np.ndarray  # [2]

    @classmethod
    def identity(cls) -> "Similarity":
        return cls(np.eye(2, dtype=np.float64), 1.0, np.zeros(2))

    def apply(self, points: np.ndarray) -> np.ndarray:
        return (self.scale * np.asarray(points, dtype=np.float64) @ self.rotation + self.shift).astype(np.float32)

    def then(self, other: "Similarity") -> "Similarity":
        """This transform followed by `other`."""
        return Similarity(self.rotation @ other.rotation, self.scale * other.scale,
                          other.scale * self.shift @ other.rotation + other.shift)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> Similarity:
    """The transform T minimising |T(source) - target| over paired rows [n, 2] (n >= 2)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if len(source) < 2:
        return Similarity.identity()
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    norm = float((a ** 2).sum())
    if norm == 0.0:
        return Similarity(np.eye(2), 1.0, mu_t - mu_s)
    rotation, singular_sum = orthogonal_procrustes(a, b)
    scale = singular_sum / norm
    return Similarity(rotation, scale, mu_t - scale * mu_s @ rotation)


def shared_rows(ids_a: list[str], ids_b: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (in a, in b) of the ids both lists hold."""
    where = {name: i for i, name in enumerate(ids_a)}
    pairs = [(where[name], j) for j, name in enumerate(ids_b) if name in where]
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = zip(*pairs)
    return np.asarray(a, np.int64), np.asarray(b, np.int64)
