"""Classification metrics from a probability matrix: plain numpy, no torch, no files.

probs is [N, K] (rows sum to 1), labels is [N] ints in 0..K-1. Everything here is a pure function so the
GUI, the CLI and the comparison of two evaluations compute the same numbers the same way.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """[K, K] counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """precision, recall, f1, support per class; a class with no predictions (or no images) scores 0, not NaN."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    if len(labels) == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> list[dict]:
    """Equal-width confidence bins: for each, how many images, their mean confidence and their accuracy."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": n,
                    "confidence": float(confidence[mask].mean()) if n else None,
                    "accuracy": float(correct[mask].mean()) if n else None})
    return out


def expected_calibration_error(bins: list[dict]) -> float:
    """Sum over bins of (share of images) x |accuracy - confidence| (Guo et al. 2017)."""
    total = sum(b["count"] for b in bins)
    if total == 0:
        return float("nan")
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]))


def per_image_loss_and_margin(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy of the true class, and margin = p(true) - the largest other probability (< 0: wrong)."""
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels))
    p_true = probs[rows, labels]
    loss = -np.log(np.clip(p_true, 1e-12, 1.0))
    others = probs.copy()
    others[rows, labels] = -np.inf
    margin = p_true - others.max(axis=1) if probs.shape[1] > 1 else p_true
    return loss, margin
