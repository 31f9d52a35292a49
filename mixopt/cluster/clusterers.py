"""The clustering methods by name: built-ins (``kmeans``, ``agglomerative``,
``agglomerative-average``, ``sccl``), your own as ``module:attr`` (a class or factory called
with no arguments that returns a :class:`~mixopt.cluster._base.Clusterer`), installed ones
through the ``mixopt.clusterers`` entry-point group."""

from __future__ import annotations

from mixopt.cluster._base import Clusterer
from mixopt.cluster.methods import Agglomerative, AgglomerativeAverage, KMeans
from mixopt.registry import Registry

__all__ = ["CLUSTERERS"]


def _sccl() -> Clusterer:
    """SCCL-style: a contrastive + clustering head trained on the embeddings, from k-means."""
    from mixopt.cluster.sccl import SCCL

    return SCCL()


CLUSTERERS: Registry[Clusterer] = Registry(
    "clustering method",
    "mixopt.clusterers",
    {
        "kmeans": KMeans,
        "agglomerative": Agglomerative,
        "agglomerative-average": AgglomerativeAverage,
        "sccl": _sccl,
    },
)
