"""scikit-learn's t-SNE, run in stages so a long projection reports progress and can be cancelled.

sklearn's TSNE has no callback, but it accepts a precomputed sparse neighbour graph and an initial embedding.
So the neighbour graph is computed once (a matrix product and top-k in torch, the costly part), and the
optimisation runs in stages of STAGE_ITERATIONS, each starting from the last one's embedding: the first
with early exaggeration, the rest without (sklearn's own schedule, split up). Between stages: cancel check
and progress. openTSNE has callbacks but is not installed; a subprocess could be killed but not report.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix

from core.datamap.pca import fit_pca, pca_coords
from core.familiarity._progress import steps
from core.familiarity.knn import QUERY_CHUNK

STAGE_ITERATIONS = 250  # sklearn's minimum max_iter, and its early-exaggeration phase
STAGES = 4  # 1,000 iterations in all, sklearn's default
MIN_POINTS = 5


def perplexity_for(n: int) -> float:
    return float(min(30.0, max(1.0, (n - 1) / 3.0 - 1.0)))


def neighbour_graph(x: torch.Tensor, n_neighbors: int, tracker) -> csr_matrix:
    """Sparse [N, N] Euclidean distances from each unit row to its n_neighbors nearest others, plus itself
    (sklearn drops each sample from its own neighbours, so it asks for one more)."""
    n = x.shape[0]
    data, cols = [], []
    n_neighbors = min(n, n_neighbors + 1)
    for start in range(0, n, QUERY_CHUNK):
        tracker.check("t-SNE")
        sims = x[start:start + QUERY_CHUNK] @ x.T
        sims[torch.arange(sims.shape[0]), torch.arange(start, start + sims.shape[0])] = 2.0  # itself first
        top, where = sims.topk(n_neighbors, dim=1)
        data.append((2.0 - 2.0 * top).clamp_min(0.0).sqrt().numpy())
        cols.append(where.numpy())
        tracker.report(min(start + QUERY_CHUNK, n), n, "t-SNE: neighbours")
    indptr = np.arange(0, n * n_neighbors + 1, n_neighbors)
    return csr_matrix((np.concatenate(data).ravel().astype(np.float64), np.concatenate(cols).ravel(), indptr),
                      shape=(n, n))


def pca_start(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """sklearn's own initialisation: the first two principal components, scaled to a std of 1e-4."""
    start = pca_coords(x, *fit_pca(x, seed))
    return (start / max(float(np.std(start[:, 0])), 1e-12) * 1e-4).astype(np.float32)


def tsne(x: torch.Tensor, *, seed: int = 0, init: np.ndarray | None = None, progress=None,
         cancelled=None) -> np.ndarray:
    """[N, 2] t-SNE of unit rows `x`. `init`: a starting map (e.g. the previous epoch's), no exaggeration."""
    from sklearn.manifold import TSNE

    tracker = steps(progress, cancelled)
    n = x.shape[0]
    perplexity = perplexity_for(n)
    graph = neighbour_graph(x, min(n - 1, int(3.0 * perplexity + 1)), tracker)
    embedding = (init if init is not None else pca_start(x.numpy(), seed)).astype(np.float32)
    learning_rate = max(n / 12.0 / 4.0, 50.0)  # sklearn's "auto", held fixed across the stages
    for stage in range(STAGES):
        tracker.check("t-SNE")
        exaggerate = stage == 0 and init is None
        model = TSNE(2, perplexity=perplexity, early_exaggeration=12.0 if exaggerate else 1.0,
                     learning_rate=learning_rate, max_iter=STAGE_ITERATIONS, metric="precomputed",
                     init=embedding, random_state=seed, method="barnes_hut")
        embedding = model.fit_transform(graph).astype(np.float32)
        tracker.report(stage + 1, STAGES, "t-SNE")
    return embedding
