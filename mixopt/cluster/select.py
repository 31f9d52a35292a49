"""Choosing k: cluster at each candidate k, score each clustering (silhouette, higher is
better, or the Davies-Bouldin index, lower is better), and keep one by a rule.

``elbow`` (the default) keeps the k whose score gains most on every smaller k, counting
only what k + 1 still holds (``min(score(k), score(k + 1)) - max(score(j) for j < k)``, so
neither a lucky k-means run at one k nor a rise after an unlucky one is an elbow): while k is below the number of sources each step
splits a mixed cluster and the score jumps; past them a step splits one source and gains
less, although on TF-IDF vectors the score keeps rising with k, so the best score
over-splits. The range's first k is kept when no later k scores better; its last k only
closes the curve. ``best`` keeps the best score: right for compact, well-apart clusters
(the score then peaks at their number), where the elbow can stop early. Both rules on
labelled pools: benchmarks/cluster.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixopt.cluster._base import Clusterer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["KScore", "choose_k", "k_reason", "pick_k", "score_labels"]

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
    gain: float = math.nan
    """How much better the score is than at every smaller k, as far as the k after it
    still holds (nan for the first and last k)."""


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
    x: np.ndarray,
    clusterer: Clusterer,
    candidates: list[int],
    metric: str,
    seed: int,
    rule: str = "elbow",
) -> tuple[np.ndarray, list[KScore], int]:
    """The labels at the chosen k, the score of every candidate (in order of k) and the
    chosen k."""
    import numpy as np

    rows: list[KScore] = []
    labelled: dict[int, np.ndarray] = {}
    for k in sorted(candidates):
        labels = clusterer.fit_predict(x, k, seed)
        rows.append(KScore(k, score_labels(x, labels, metric, seed), len(np.unique(labels))))
        labelled[k] = labels.astype(np.int32)
    table = _with_gains(rows, metric)
    chosen, _ = pick_k(table, metric, rule)
    return labelled[chosen].astype(np.int64), table, chosen


def _better(score: float, metric: str) -> float:
    """The score on one scale where higher is better (-inf for nan)."""
    if math.isnan(score):
        return -math.inf
    return score if metric == "silhouette" else -score


def _with_gains(rows: list[KScore], metric: str) -> list[KScore]:
    better = [_better(r.score, metric) for r in rows]
    gains = [
        min(better[i], better[i + 1]) - max(better[:i]) if 0 < i < len(rows) - 1 else math.nan
        for i in range(len(rows))
    ]
    return [
        KScore(r.k, r.score, r.clusters, g if math.isfinite(g) else math.nan)
        for r, g in zip(rows, gains, strict=True)
    ]


def pick_k(table: list[KScore], metric: str, rule: str) -> tuple[int, bool]:
    """The k ``rule`` picks from a table of :func:`choose_k`, and whether it is an elbow
    (else the best score)."""
    best = max(table, key=lambda s: _better(s.score, metric))  # the first best
    steps = [s for s in table if math.isfinite(s.gain)]
    if rule == "best" or not steps or best is table[0] or max(s.gain for s in steps) <= 0:
        return best.k, False  # the first k is kept when no later k scores better
    return max(steps, key=lambda s: s.gain).k, True


def k_reason(table: list[KScore], chosen: int, metric: str, rule: str) -> str:
    """Why ``chosen`` was kept, in one sentence."""
    row = next(s for s in table if s.k == chosen)
    if pick_k(table, metric, rule) != (chosen, True):
        return f"k = {chosen}: the best {metric} ({row.score:.3f}) over {table[0].k}:{table[-1].k}"
    return (
        f"k = {chosen}: the largest gain in {metric} over smaller k, held at the k after it "
        f"({row.gain:+.3f}; rule elbow: past the sources, a split gains less)"
    )
