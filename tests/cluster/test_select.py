from __future__ import annotations

import numpy as np
import pytest

from mixopt.cluster.methods import KMeans
from mixopt.cluster.select import choose_k


@pytest.mark.parametrize("metric", ["silhouette", "davies-bouldin"])
@pytest.mark.parametrize("true_k", [3, 5])
def test_choose_k_finds_the_number_of_blobs(metric: str, true_k: int) -> None:
    rng = np.random.default_rng(true_k)
    centres = rng.normal(size=(true_k, 6)) * 8
    x = np.repeat(centres, 40, axis=0) + rng.normal(size=(40 * true_k, 6))
    labels, table = choose_k(x, KMeans(), list(range(2, 8)), metric, seed=0)
    assert [row.k for row in table] == list(range(2, 8))
    assert len(np.unique(labels)) == true_k
