"""How a pool is clustered: one frozen config, checked before any record is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mixopt.errors import ConfigError, did_you_mean
from mixopt.setting import is_int, setting

__all__ = ["K_RULES", "METRICS", "SMALL_ACTIONS", "ClusterConfig", "parse_k_range"]

METRICS = ("silhouette", "davies-bouldin")
SMALL_ACTIONS = ("merge", "drop")
K_RULES = ("elbow", "best")
EMBEDDINGS = ("tfidf", "model")


def parse_k_range(text: str) -> tuple[int, int]:
    """``"4:16"`` -> (4, 16); a one-line error otherwise."""
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(lo), int(hi)
    except ValueError:
        raise ConfigError(f"k range must be A:B (e.g. 4:16), got {text!r}") from None


@dataclass(frozen=True)
class ClusterConfig:
    """Everything that decides the clusters (the pool and the output folder aside)."""

    k: int | None = setting(None, metavar="N")
    """Number of clusters; default: chosen over the k range by the k metric (a k given wins)."""
    k_range: tuple[int, int] = setting((2, 16), parse=parse_k_range, metavar="A:B")
    """Inclusive range of k tried when no k is given (default 2:16)."""
    k_rule: str = setting("elbow", choices=K_RULES)
    """How k is chosen over the range: ``elbow``, the k whose metric improves most on every
    smaller k, as far as the next k still holds (the range's first k if no later one scores
    better), or ``best``, the best
    metric (it over-splits sources on TF-IDF: benchmarks/cluster.py)."""
    method: str = "kmeans"
    """``kmeans``, ``agglomerative`` (Ward), ``agglomerative-average``, ``sccl`` or ``module:attr``."""
    embed: str = "tfidf"
    """``tfidf`` (TF-IDF + truncated SVD), ``model`` (mean-pooled hidden states of the model) or
    ``sentence-transformers:PATH``."""
    model: str | None = setting(None, metavar="MODEL")
    """A local causal LM folder (or hub id in the cache) for the ``model`` embedding."""
    metric: str = "silhouette"
    """How k is chosen: ``silhouette`` (highest) or ``davies-bouldin`` (lowest)."""
    min_size: int = setting(0, metavar="N")
    """Clusters with fewer records are merged into the nearest cluster or dropped (see small)."""
    small: str = setting("merge", choices=SMALL_ACTIONS)
    """What happens to clusters under the min size: ``merge`` or ``drop``."""
    dims: int = setting(128, cli=False)
    """Dimensions the TF-IDF vectors are reduced to (truncated SVD)."""
    seed: int = 0
    """Seed of every random step (sampling, SVD, k-means, SCCL)."""

    def __post_init__(self) -> None:
        problems = _check(self)
        if problems:
            raise ConfigError(problems)

    @property
    def candidates(self) -> list[int]:
        """The values of k that are tried."""
        return [self.k] if self.k is not None else list(range(self.k_range[0], self.k_range[1] + 1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(c: ClusterConfig) -> list[str]:
    problems = []
    if c.k is not None and not (is_int(c.k) and c.k >= 2):
        problems.append(f"k must be an integer of at least 2, got {c.k!r}")
    lo, hi = c.k_range if len(c.k_range) == 2 else (0, -1)
    if not (is_int(lo) and is_int(hi) and 2 <= lo <= hi):
        problems.append(f"k range must be A:B with 2 <= A <= B, got {c.k_range!r}")
    if c.metric not in METRICS:
        problems.append(
            f"unknown k metric {c.metric!r}.{did_you_mean(c.metric, METRICS)} "
            f"Metrics: {', '.join(METRICS)}"
        )
    if c.k_rule not in K_RULES:
        problems.append(
            f"unknown k rule {c.k_rule!r}.{did_you_mean(c.k_rule, K_RULES)} "
            f"Rules: {', '.join(K_RULES)}"
        )
    if c.small not in SMALL_ACTIONS:
        problems.append(f"small clusters are 'merge'd or 'drop'ped, got {c.small!r}")
    if not (is_int(c.min_size) and c.min_size >= 0):
        problems.append(f"min size must be a non-negative integer, got {c.min_size!r}")
    if not (is_int(c.dims) and c.dims >= 2):
        problems.append(f"dims must be an integer of at least 2, got {c.dims!r}")
    problems.extend(_check_embed(c))
    return problems


def _check_embed(c: ClusterConfig) -> list[str]:
    if c.embed.startswith("sentence-transformers:"):
        return [] if c.embed.partition(":")[2] else ["sentence-transformers:PATH needs a PATH"]
    if c.embed not in EMBEDDINGS:
        choices = [*EMBEDDINGS, "sentence-transformers:PATH"]
        return [
            f"unknown embedding {c.embed!r}.{did_you_mean(c.embed, choices)} "
            f"Embeddings: {', '.join(choices)}"
        ]
    if c.embed == "model" and not c.model:
        return ["embedding 'model' needs a model (--model: a local causal LM folder)"]
    return []
