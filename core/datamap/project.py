"""2-D projections of unit-length features, and where a new image falls on an existing map.

PCA is immediate and places a new point exactly (project it on the same components). t-SNE and UMAP have
no exact projection for new points in general: t-SNE places one at the mean position of its PLACE_K nearest
map points in feature space (closest first, weighted by 1 / distance); UMAP uses umap-learn's own transform.
A projection carries a similarity transform, so a map aligned to another (align.py) places new points
aligned too.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from core.datamap.align import Similarity
from core.datamap.pca import fit_pca, pca_coords
from core.familiarity._progress import steps
from core.familiarity.errors import FamiliarityError
from core.familiarity.knn import nearest, normalise

METHODS = ("pca", "tsne", "umap")
PLACE_K = 5


class MapError(FamiliarityError):
    """A map cannot be made as asked (an unknown method, too few images, a missing optional package)."""


@dataclass
class MapProjection:
    method: str
    raw: np.ndarray  # float32 [N, 2], the method's own coordinates
    features: torch.Tensor  # float32 [N, D] unit rows the map was made from (to place new points)
    pca: tuple[np.ndarray, np.ndarray] | None = None  # (mean, components) for method "pca"
    reducer: object | None = None  # umap-learn's fitted UMAP, for method "umap"
    transform: Similarity = field(default_factory=Similarity.identity)

    @property
    def points(self) -> np.ndarray:
        """[N, 2] map coordinates (aligned when the map was aligned to another)."""
        return self.transform.apply(self.raw)

    def aligned(self, extra: Similarity) -> "MapProjection":
        return replace(self, transform=self.transform.then(extra))

    def place(self, features) -> np.ndarray:
        """[M, 2] map positions of new images from their raw penultimate features [M, D]."""
        x = normalise(features)
        if self.method == "pca":
            raw = pca_coords(x.numpy(), *self.pca)
        elif self.method == "umap":
            raw = np.asarray(self.reducer.transform(x.numpy()), dtype=np.float32)
        else:
            distances, rows = nearest(self.features, x, PLACE_K)
            weights = 1.0 / distances.clamp_min(1e-6)
            weights = (weights / weights.sum(dim=1, keepdim=True)).numpy()
            raw = (self.raw[rows.numpy()] * weights[..., None]).sum(axis=1).astype(np.float32)
        return self.transform.apply(raw)


def _umap(x: np.ndarray, seed: int):
    try:
        import umap  # optional: umap-learn pulls in numba and llvmlite
    except ImportError:
        raise MapError("the UMAP map needs the optional package umap-learn (pip install umap-learn); "
                       "PCA and t-SNE work without it") from None
    reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, max(2, len(x) - 1)))
    return np.asarray(reducer.fit_transform(x), dtype=np.float32), reducer


def project(features, method: str = "pca", *, seed: int = 0, init: np.ndarray | None = None, progress=None,
            cancelled=None) -> MapProjection:
    """A map of raw penultimate features [N, D] (normalised here, as familiarity sees them). `init`: a t-SNE
    starting map (the previous epoch's points), for maps that follow each other."""
    from core.datamap.tsne import MIN_POINTS, tsne

    if method not in METHODS:
        raise MapError(f"unknown map method {method!r}; use one of {', '.join(METHODS)}")
    tracker = steps(progress, cancelled)
    x = normalise(features).contiguous()
    if x.shape[0] < (MIN_POINTS if method != "pca" else 2):
        raise MapError(f"a {method} map needs more images than {x.shape[0]}")
    tracker.check("the map")
    if method == "pca":
        basis = fit_pca(x.numpy(), seed)
        projection = MapProjection("pca", pca_coords(x.numpy(), *basis), x, pca=basis)
    elif method == "umap":
        coords, reducer = _umap(x.numpy(), seed)
        projection = MapProjection("umap", coords, x, reducer=reducer)
    else:
        projection = MapProjection("tsne", tsne(x, seed=seed, init=init, progress=tracker), x)
    tracker.report(1, 1, method)
    return projection
