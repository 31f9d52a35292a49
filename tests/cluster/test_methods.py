from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from mixopt.cluster import CLUSTERERS
from mixopt.cluster.embeddings import TfidfEmbedder
from mixopt.cluster.pool import load_pool
from mixopt.errors import ConfigError


@pytest.fixture(scope="module")
def embedded(pool: tuple[Path, list[int]]) -> tuple[np.ndarray, list[int]]:
    path, truth = pool
    return TfidfEmbedder(dims=64).embed(load_pool(str(path)).texts), truth


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_methods_recover_separable_kinds(
    embedded: tuple[np.ndarray, list[int]], method: str
) -> None:
    x, truth = embedded
    labels = CLUSTERERS.get(method)().fit_predict(x, 4, 0)
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_sccl_starts_from_kmeans_and_keeps_it(embedded: tuple[np.ndarray, list[int]]) -> None:
    x, truth = embedded
    labels = CLUSTERERS.get("sccl")().fit_predict(x, 4, 0)
    assert labels.shape == (len(truth),)
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_kmeans_switches_to_mini_batches_for_large_pools() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 10
    x = np.repeat(centres, 7000, axis=0) + rng.normal(size=(21000, 8))
    labels = CLUSTERERS.get("kmeans")().fit_predict(x, 3, 0)
    assert adjusted_rand_score(np.repeat([0, 1, 2], 7000), labels) == 1.0


def test_unknown_method_suggests_a_name() -> None:
    with pytest.raises(ConfigError, match="Did you mean: kmeans"):
        CLUSTERERS.get("kmean")
