"""What a clustering found: the clusters, how k was chosen, and where they were written."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixopt.cluster.config import ClusterConfig
from mixopt.cluster.naming import SmallClusters
from mixopt.cluster.select import KScore

__all__ = ["ClusterResult"]


@dataclass(frozen=True)
class ClusterResult:
    """The outcome of :func:`mixopt.cluster_domains` (also written to ``OUT/clusters.json``)."""

    out: Path
    """The output folder."""
    config: ClusterConfig
    names: list[str]
    """Domain names, largest cluster first."""
    sizes: list[int]
    """Records per cluster, in the order of ``names``."""
    terms: list[list[str]]
    """Each cluster's top TF-IDF terms, most distinctive first."""
    k_scores: list[KScore]
    """The metric at each k tried (one row when k was given)."""
    chosen_k: int
    """The k whose clustering was kept (before small clusters were merged or dropped)."""
    small: SmallClusters
    """Clusters under ``min_size``, and whether they were merged or dropped."""
    records: int
    """Records in the pool."""
    format: str
    """The pool's record format."""
    embeddings_cached: bool = False

    @property
    def k_reason(self) -> str:
        """Why ``chosen_k`` was kept, in one sentence."""
        from mixopt.cluster.select import k_reason

        if self.config.k is not None:
            return f"k = {self.config.k}: given"
        return k_reason(self.k_scores, self.chosen_k, self.config.metric, self.config.k_rule)

    @property
    def k(self) -> int:
        return len(self.names)

    @property
    def domains_file(self) -> Path:
        return self.out / "domains.json"

    @property
    def report(self) -> Path:
        return self.out / "report" / "index.html"

    def to_dict(self) -> dict[str, Any]:
        from mixopt._version import __version__

        return {
            "mixopt_version": __version__,
            "config": self.config.to_dict(),
            "records": self.records,
            "format": self.format,
            "k": self.k,
            "chosen_k": self.chosen_k,
            "k_reason": self.k_reason,
            "k_scores": [
                {
                    "k": s.k,
                    "score": None if math.isnan(s.score) else s.score,
                    "clusters": s.clusters,
                    "gain": None if math.isnan(s.gain) else s.gain,
                }
                for s in self.k_scores
            ],
            "small_clusters": vars(self.small),
            "clusters": [
                {"domain": n, "records": s, "terms": t, "path": f"{n}.jsonl"}
                for n, s, t in zip(self.names, self.sizes, self.terms, strict=True)
            ],
        }
