"""The built-in clustering methods (:class:`~mixopt.cluster._base.Clusterer`s), and the
centroid helpers they share.

The registry of them by name is :data:`mixopt.cluster.clusterers.CLUSTERERS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Agglomerative", "AgglomerativeAverage", "KMeans", "centroids", "nearest"]

# Lloyd k-means on every record up to here; past it mini-batches (the pool need not fit a
# full pass per iteration, and 1M records cluster in seconds)
_FULL_KMEANS_MAX = 20_000
# agglomerative clustering holds an n x n distance structure: fit it on a seeded sample this
# large and give every other record its nearest cluster's label
_AGGLOMERATIVE_MAX = 8_000


class KMeans:
    """k-means (k-means++ starts; mini-batch k-means for pools over 20k records)."""

    def fit_predict(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        import numpy as np
        from sklearn.cluster import KMeans as Full
        from sklearn.cluster import MiniBatchKMeans

        model: Any
        if len(x) <= _FULL_KMEANS_MAX:
            # 10 restarts: cheap at this size, and one bad start costs the whole clustering
            model = Full(n_clusters=k, n_init=10, random_state=seed)
        else:
            model = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed)
        return np.asarray(model.fit_predict(x), dtype=np.int64)


class Agglomerative:
    """Hierarchical agglomerative clustering (Ward linkage by default)."""

    def __init__(self, linkage: str = "ward") -> None:
        self.linkage = linkage

    def fit_predict(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        import numpy as np
        from sklearn.cluster import AgglomerativeClustering

        idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:_AGGLOMERATIVE_MAX])
        model = AgglomerativeClustering(n_clusters=k, linkage=self.linkage)
        sample_labels = np.asarray(model.fit_predict(x[idx]), dtype=np.int64)
        if len(idx) == len(x):
            return sample_labels
        return nearest(x, centroids(x[idx], sample_labels, k))


class AgglomerativeAverage(Agglomerative):
    """Hierarchical agglomerative clustering with average linkage."""

    def __init__(self) -> None:
        super().__init__("average")


def centroids(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The mean of each cluster's rows (a zero row for an empty cluster)."""
    import numpy as np

    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, x)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return sums / np.maximum(counts, 1.0)[:, None]


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each row's nearest centre (squared Euclidean), in chunks to bound memory."""
    import numpy as np

    out = np.empty(len(x), dtype=np.int64)
    c2 = (centres**2).sum(1)
    for start in range(0, len(x), 65_536):
        chunk = x[start : start + 65_536].astype(np.float64)
        out[start : start + len(chunk)] = np.argmin(c2[None, :] - 2 * chunk @ centres.T, axis=1)
    return out
