"""The first two principal components of the features (scikit-learn's PCA: randomized SVD on large sets)."""
from __future__ import annotations

import numpy as np


def fit_pca(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], components [2, D]) of rows `x`; fewer than 2 dimensions are padded with zeros."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float32)
    n_components = min(2, x.shape[0], x.shape[1])
    pca = PCA(n_components=n_components, random_state=seed).fit(x)
    components = np.zeros((2, x.shape[1]), dtype=np.float32)
    components[:n_components] = pca.components_
    return pca.mean_.astype(np.float32), components


def pca_coords(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, dtype=np.float32) - mean) @ components.T).astype(np.float32)
