"""Choosing k: cluster at each candidate k and keep the best silhouette (highest) or
Davies-Bouldin index (lowest)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixopt.cluster._base import Clusterer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["KScore", "choose_k", "score_labels"]

# both scores cost O(n^2) distances (silhouette) or a pass per cluster; on a seeded sample this
# large their ranking of k is stable, and k selection stays seconds on a million records
_SCORE_SAMPLE = 5_000


@dataclass(frozen=True)
class KScore:
    k: int
    score: float
    """The metric's value (nan when the clustering collapsed into fewer than 2 clusters)."""
    clusters: int
    """Clusters the method actually returned (it may leave some empty)."""


def score_labels(x: np.ndarray, labels: np.ndarray, metric: str, seed: int) -> float:
    """The metric on a seeded sample of the rows; nan if fewer than 2 clusters are used."""
    import numpy as np
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    idx = np.random.default_rng(seed).permutation(len(x))[:_SCORE_SAMPLE]
    xs, ls = x[idx], labels[idx]
    if not 2 <= len(np.unique(ls)) < len(xs):
        return math.nan
    if metric == "silhouette":
        return float(silhouette_score(xs, ls))
    return float(davies_bouldin_score(xs, ls))


def choose_k(
    x: np.ndarray, clusterer: Clusterer, candidates: list[int], metric: str, seed: int
) -> tuple[np.ndarray, list[KScore]]:
    """The labels at the best k and the score of every candidate (in order of k)."""
    import numpy as np

    best: tuple[float, np.ndarray] | None = None
    table = []
    for k in candidates:
        labels = clusterer.fit_predict(x, k, seed)
        score = score_labels(x, labels, metric, seed)
        table.append(KScore(k, score, len(np.unique(labels))))
        # higher silhouette is better, lower Davies-Bouldin: compare on one scale
        key = -math.inf if math.isnan(score) else (score if metric == "silhouette" else -score)
        if best is None or key > best[0]:
            best = (key, labels)
    assert best is not None
    return best[1], table
