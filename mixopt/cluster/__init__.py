"""Domains from an unlabeled pool: embed the records, cluster them, name the clusters and
write a domains file the search can use (``mixopt cluster``, :func:`cluster_domains`).

Parts: :mod:`~mixopt.cluster.pool` (reading the pool), :mod:`~mixopt.cluster.embeddings`
(TF-IDF + SVD, a causal LM, sentence-transformers; cached), :mod:`~mixopt.cluster.methods`
(k-means, agglomerative, SCCL, or your own ``module:attr``), :mod:`~mixopt.cluster.select`
(choosing k), :mod:`~mixopt.cluster.naming` (names, small clusters),
:mod:`~mixopt.cluster.output` and :mod:`~mixopt.cluster.report` (the folder). Nothing heavy
is imported until a function runs.
"""

from __future__ import annotations

from mixopt.cluster._base import Clusterer
from mixopt.cluster.api import cluster_domains
from mixopt.cluster.clusterers import CLUSTERERS
from mixopt.cluster.config import ClusterConfig
from mixopt.cluster.result import ClusterResult

__all__ = ["CLUSTERERS", "ClusterConfig", "ClusterResult", "Clusterer", "cluster_domains"]
