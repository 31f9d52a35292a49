from __future__ import annotations

import numpy as np
import pytest

from mixopt.cluster.naming import cluster_names, handle_small, order_by_size, top_terms
from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError

TEXTS = [
    "the cat sat on the mat",
    "a cat and a kitten",
    "stocks fell on Monday",
    "stocks and bonds rallied",
    "the kitten purred",
]


def test_names_come_from_top_terms_and_are_valid_domain_names() -> None:
    labels = np.array([0, 0, 1, 1, 0])
    terms = top_terms(TEXTS, labels)
    assert "cat" in terms[0] and "stocks" in terms[1]
    names = cluster_names([*terms, [], ["Ünïcode!", "x-y"], ["cat", "kitten"]])
    assert len(set(names)) == len(names)
    for name in names:
        DomainSpec(name=name, data=({"text": "x"},))  # raises for an invalid name


def test_names_are_stable_whatever_the_label_numbers() -> None:
    a = order_by_size(np.array([0, 0, 1, 1, 0, 2]))
    b = order_by_size(np.array([2, 2, 0, 0, 2, 1]))
    assert a.tolist() == b.tolist() == [0, 0, 1, 1, 0, 2]
    assert cluster_names(top_terms([*TEXTS, "x y"], a)) == cluster_names(
        top_terms([*TEXTS, "x y"], b)
    )


def test_clashing_names_take_another_term_then_a_number() -> None:
    names = cluster_names(
        [["sql", "select", "join"], ["sql", "select", "where"], ["sql", "select"]]
    )
    assert names == ["sql_select", "sql_select_where", "sql_select_2"]


def test_small_clusters_merge_into_the_nearest() -> None:
    x = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2], [9.0]])
    labels = np.array([0, 0, 0, 1, 1, 1, 2])
    merged, small = handle_small(x, labels, 2, "merge")
    assert merged.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert (small.action, small.sizes, small.records) == ("merge", (1,), 1)


def test_small_clusters_can_be_dropped() -> None:
    x = np.zeros((5, 1))
    dropped, small = handle_small(x, np.array([0, 0, 0, 1, 1]), 3, "drop")
    assert dropped.tolist() == [0, 0, 0, -1, -1]
    assert order_by_size(dropped).tolist() == [0, 0, 0, -1, -1]
    assert small.records == 2


def test_every_cluster_too_small_is_an_error() -> None:
    with pytest.raises(ConfigError, match="every cluster has fewer than min size 9"):
        handle_small(np.zeros((4, 1)), np.array([0, 0, 1, 1]), 9, "merge")
