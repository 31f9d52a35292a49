"""``cluster_domains``: from an unlabeled pool to a domains file the search can use."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mixopt.cluster.config import ClusterConfig
from mixopt.cluster.result import ClusterResult
from mixopt.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from mixopt.cluster._base import Clusterer
    from mixopt.cluster.embeddings import Embedder
    from mixopt.cluster.pool import Pool
    from mixopt.events import EventLog

__all__ = ["cluster_domains"]

T = TypeVar("T")


def cluster_domains(
    data: str | Sequence[str],
    out: str | Path,
    config: ClusterConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    events: EventLog | None = None,
    **settings: Any,
) -> ClusterResult:
    """Cluster the records of ``data`` (files, globs, or a domains file whose domains are
    pooled) and write ``out``: ``domains.json``, one ``NAME.jsonl`` per cluster,
    ``clusters.json`` and ``report/index.html``.

    ``settings`` are :class:`ClusterConfig` fields (``k=8``, ``k_range=(4, 16)`` or
    ``"4:16"``, ``method="agglomerative"``, ``embed="tfidf"``, ``min_size=50``...). Every
    check that needs no embedding (the settings, the method, the embedding, the output folder,
    the records, k against the pool) runs before any record is embedded, and all of their
    problems are raised together, one line each.
    """
    from mixopt.cluster.embeddings import cached_embeddings

    config, clusterer, embedder, pool, candidates = _prepare(data, out, config, settings, cache_dir)
    out = Path(out)
    _say(
        events,
        "cluster_started",
        f"embedding {len(pool):,} records ({config.embed})...",
        records=len(pool),
        embed=config.embed,
    )
    x, cached = cached_embeddings(embedder, pool.texts, cache_dir)
    _say(events, "cluster_embedded", None, cached=cached, dims=int(x.shape[1]))
    return _cluster(out, pool, x, config, clusterer, candidates, cached, events)


def _cluster(
    out: Path,
    pool: Pool,
    x: np.ndarray,
    config: ClusterConfig,
    clusterer: Any,
    candidates: list[int],
    cached: bool,
    events: EventLog | None,
) -> ClusterResult:

    from mixopt.cluster.naming import cluster_names, handle_small, order_by_size, top_terms
    from mixopt.cluster.select import choose_k

    labels, table, chosen = choose_k(
        x, clusterer, candidates, config.metric, config.seed, config.k_rule
    )
    labels, small = handle_small(x, order_by_size(labels), config.min_size, config.small)
    labels = order_by_size(labels)
    terms = top_terms(pool.texts, labels, seed=config.seed)
    k = int(labels.max()) + 1
    result = ClusterResult(
        out.resolve(),
        config,
        cluster_names(terms),
        [int((labels == c).sum()) for c in range(k)],
        terms,
        table,
        chosen,
        small,
        len(pool),
        pool.format,
        cached,
    )
    _write(result, pool, x, labels)
    _say(
        events,
        "cluster_done",
        f"wrote {result.domains_file} ({k} domains)",
        out=str(result.out),
        k=k,
    )
    return result


def _write(result: ClusterResult, pool: Pool, x: np.ndarray, labels: np.ndarray) -> None:
    import numpy as np

    from mixopt.cluster.output import (
        CLUSTERS_FILE,
        domain_entries,
        write_domains,
        write_folder,
        write_jsonl,
    )
    from mixopt.cluster.report import write_report
    from mixopt.io import write_json_atomic

    order = np.argsort(labels, kind="stable")  # records grouped by cluster, in pool order
    bounds = np.searchsorted(labels[order], np.arange(len(result.names) + 1))

    def fill(folder: Path) -> None:
        for c, name in enumerate(result.names):
            members = [pool.records[i] for i in order[bounds[c] : bounds[c + 1]]]
            write_jsonl(folder / f"{name}.jsonl", members)
        write_json_atomic(folder / CLUSTERS_FILE, result.to_dict())
        write_report(folder / "report", result, x, labels, pool.texts)
        # the domains file last: a folder holding it holds everything it names
        write_domains(folder, domain_entries(result.names, result.sizes, pool.format))

    write_folder(result.out, fill)


def _prepare(
    data: str | Sequence[str],
    out: str | Path,
    config: ClusterConfig | None,
    settings: dict[str, Any],
    cache_dir: str | Path | None,
) -> tuple[ClusterConfig, Clusterer, Embedder, Pool, list[int]]:
    """Every check that needs no embedding, each run even when an earlier one failed, so a
    user fixes everything in one go: one :class:`ConfigError` with a line per problem."""
    from mixopt.cluster.clusterers import CLUSTERERS
    from mixopt.cluster.embeddings import make_embedder
    from mixopt.cluster.pool import load_pool
    from mixopt.io import require_empty_dir

    problems: list[str] = []

    def attempt(check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None

    checked = attempt(_config, config, settings, problems)
    method = settings.get("method", (config or ClusterConfig()).method)
    clusterer = attempt(lambda: CLUSTERERS.get(method)())
    embedder = attempt(make_embedder, checked) if checked is not None else None
    attempt(require_empty_dir, Path(out))
    datasets_cache = None if cache_dir is None else str(Path(cache_dir) / "datasets")
    pool = attempt(load_pool, data, datasets_cache)
    candidates = None
    if checked is not None and pool is not None:
        candidates = attempt(_candidates, checked, len(pool))
    if problems:
        raise ConfigError(problems)
    # no problem, so every step returned
    assert checked is not None and clusterer is not None and embedder is not None
    assert pool is not None and candidates is not None
    return checked, clusterer, embedder, pool, candidates


def _config(
    config: ClusterConfig | None, settings: dict[str, Any], problems: list[str]
) -> ClusterConfig:
    """The config with ``settings`` applied; a ``"A:B"`` k range is parsed (its problem is
    kept in ``problems`` and the rest checked with the default range)."""
    from mixopt.cluster.config import parse_k_range

    if isinstance(settings.get("k_range"), str):
        settings = dict(settings)
        try:
            settings["k_range"] = parse_k_range(settings["k_range"])
        except ConfigError as exc:
            problems.extend(exc.problems)
            del settings["k_range"]
    try:
        if config is None:
            return ClusterConfig(**settings)
        return dataclasses.replace(config, **settings)
    except TypeError as exc:  # an unknown keyword
        raise ConfigError(f"cluster_domains: {exc}") from None


def _candidates(config: ClusterConfig, n: int) -> list[int]:
    """The k values tried, checked against the pool: k must leave at least one record to
    tell clusters apart (k < records); a range is cut at the pool's size."""
    if config.k is not None and config.k >= n:
        raise ConfigError(f"k {config.k} is not smaller than the pool ({n:,} records)")
    if config.k is None and config.k_range[0] >= n:
        raise ConfigError(
            f"k range {config.k_range[0]}:{config.k_range[1]} starts at or above the pool's "
            f"size ({n:,} records)"
        )
    return [k for k in config.candidates if k < n]


def _say(events: EventLog | None, event: str, message: str | None, **fields: Any) -> None:
    if events is not None:
        events.emit(event, message, **fields)
