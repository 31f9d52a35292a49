from __future__ import annotations

import numpy as np
import pytest

from mixopt.cluster.methods import KMeans
from mixopt.cluster.select import KScore, choose_k, k_reason


@pytest.mark.parametrize(
    ("rule", "true_k"), [("best", 2), ("best", 3), ("best", 5), ("elbow", 2), ("elbow", 3)]
)
@pytest.mark.parametrize("metric", ["silhouette", "davies-bouldin"])
def test_choose_k_finds_the_number_of_blobs(metric: str, true_k: int, rule: str) -> None:
    rng = np.random.default_rng(true_k)
    centres = rng.normal(size=(true_k, 6)) * 8
    x = np.repeat(centres, 40, axis=0) + rng.normal(size=(40 * true_k, 6))
    labels, table, chosen = choose_k(x, KMeans(), list(range(2, 8)), metric, 0, rule)
    assert [row.k for row in table] == list(range(2, 8))
    assert chosen == true_k and len(np.unique(labels)) == true_k


# the silhouette of benchmarks/cluster.py's pool (five sources, TF-IDF + k-means) at k = 2..10:
# it keeps rising past the five sources, as it does on text
RISING = [0.0491, 0.0553, 0.0664, 0.0848, 0.0927, 0.1014, 0.1064, 0.1139, 0.1163]


def test_elbow_keeps_the_sources_where_the_best_score_over_splits() -> None:
    from mixopt.cluster.select import _with_gains, pick_k

    table = _with_gains([KScore(k, s, k) for k, s in enumerate(RISING, 2)], "silhouette")
    assert pick_k(table, "silhouette", "elbow") == (5, True)
    assert pick_k(table, "silhouette", "best") == (10, False)
    assert k_reason(table, 5, "silhouette", "elbow") == (
        "k = 5: the largest gain in silhouette over smaller k, held at the k after it (+0.018; rule elbow: past the sources, a split gains less)"
    )
    # a lucky run at one k is no elbow: its gain counts only what the next k still holds
    spiked = _with_gains(
        [KScore(k, s + 0.05 * (k == 7), k) for k, s in enumerate(RISING, 2)], "silhouette"
    )
    assert pick_k(spiked, "silhouette", "elbow") == (5, True)
    # nor is the rise after an unlucky run: a gain counts against every smaller k
    dipped = _with_gains(
        [KScore(k, s - 0.04 * (k == 8), k) for k, s in enumerate(RISING, 2)], "silhouette"
    )
    assert pick_k(dipped, "silhouette", "elbow") == (5, True)


def test_the_first_k_is_kept_when_no_later_k_scores_better() -> None:
    table = [KScore(2, 0.5, 2), KScore(3, 0.3, 3, -0.2), KScore(4, 0.35, 4)]
    from mixopt.cluster.select import pick_k

    assert pick_k(table, "silhouette", "elbow") == (2, False)
    assert (
        k_reason(table, 2, "silhouette", "elbow") == "k = 2: the best silhouette (0.500) over 2:4"
    )
