"""Class-conditional Gaussians with one shared covariance (Lee et al. 2018, "A simple unified framework for
detecting out-of-distribution samples and adversarial attacks"): the distance of an image's pooled block
activations to the nearest class mean, in the units of how the training images vary around their means.

Needs only the class means and one precision matrix per view (no bank rows), so scoring costs one small
matrix product however many training images there were.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RIDGE = 1e-4  # added to the covariance's diagonal (relative to its mean variance): dead channels stay finite


@dataclass
class Gaussians:
    means: np.ndarray  # float32 [C, d], one row per class (a class without training images: the overall mean)
    precision: np.ndarray  # float32 [d, d], the inverse of the shared covariance

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])


def fit_gaussians(x: np.ndarray, labels: np.ndarray, classes: int) -> Gaussians:
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    overall = x.mean(axis=0)
    means = np.stack([x[labels == c].mean(axis=0) if np.any(labels == c) else overall for c in range(classes)])
    centred = x - means[labels]
    covariance = centred.T @ centred / max(1, len(x))
    ridge = RIDGE * max(float(np.trace(covariance)) / max(1, covariance.shape[0]), 1e-12)
    precision = np.linalg.pinv(covariance + ridge * np.eye(covariance.shape[0]), hermitian=True)
    return Gaussians(means.astype(np.float32), precision.astype(np.float32))


def nearest_class_distance(g: Gaussians, x) -> np.ndarray:
    """[M] the smallest Mahalanobis distance (the square root of the quadratic form) of each row to a class."""
    q = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not torch.is_tensor(x) else x.float().cpu()
    if q.numel() == 0:
        return np.zeros(len(q), np.float32)
    means, precision = torch.from_numpy(g.means), torch.from_numpy(g.precision)
    qp = q @ precision  # (x - m)' P (x - m) = x'Px - 2 x'Pm + m'Pm, for every class at once
    quadratic = (qp * q).sum(dim=1, keepdim=True) - 2.0 * qp @ means.T + ((means @ precision) * means).sum(dim=1)
    return quadratic.min(dim=1).values.clamp_min(0.0).sqrt().numpy()
