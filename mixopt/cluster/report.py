"""The clusters' report: ``report/index.html`` with the sizes and top terms, the k-selection
curve, a 2-D map of the embeddings, and sample records of each cluster."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.cluster.result import ClusterResult
from mixopt.io import write_text_atomic

if TYPE_CHECKING:
    import numpy as np

__all__ = ["write_report"]

_MAP_POINTS = 5_000  # a seeded sample: more points only blacken the map
_SAMPLES = 3  # records shown per cluster
_SAMPLE_CHARS = 300


def write_report(
    folder: Path, result: ClusterResult, x: np.ndarray, labels: np.ndarray, texts: Sequence[str]
) -> Path:
    """Draw the figures and write the page into ``folder`` (the page last)."""
    folder.mkdir(parents=True, exist_ok=True)
    _sizes(folder / "sizes.png", result)
    _k_curve(folder / "k_selection.png", result)
    _map(folder / "map.png", result, x, labels)
    page = folder / "index.html"
    write_text_atomic(page, _page(result, labels, texts), 0o644)
    return page


def _sizes(path: Path, result: ClusterResult) -> None:
    from mixopt.report._common import new_figure, save_png

    fig = new_figure(9, 0.45 * result.k + 1.2)
    ax = fig.add_subplot()
    ax.barh(range(result.k), result.sizes, color="#1f77b4")
    ax.set_yticks(range(result.k), result.names)
    ax.invert_yaxis()  # largest first, as in the table
    for i, (size, terms) in enumerate(zip(result.sizes, result.terms, strict=True)):
        ax.text(size, i, f"  {size:,}  {', '.join(terms)}", va="center", fontsize=8)
    ax.set_xlim(0, max(result.sizes) * 1.9)  # room for the terms beside the longest bar
    ax.set_xlabel("records")
    ax.set_title("Cluster sizes and top terms")
    save_png(fig, path)


def _k_curve(path: Path, result: ClusterResult) -> None:
    from mixopt.report._common import new_figure, save_png

    metric = result.config.metric
    fig = new_figure(6, 3.2)
    ax = fig.add_subplot()
    ks = [s.k for s in result.k_scores]
    ax.plot(ks, [s.score for s in result.k_scores], "o-", color="#7f7f7f")
    chosen = [s for s in result.k_scores if s.k == result.chosen_k]
    if chosen:
        ax.plot([chosen[0].k], [chosen[0].score], "o", color="#d62728", ms=10, label="chosen")
        ax.legend()
    better = "higher" if metric == "silhouette" else "lower"
    ax.set_xlabel("k")
    ax.set_ylabel(f"{metric} ({better} is better)")
    ax.set_title("Choosing k")
    save_png(fig, path)


def _map(path: Path, result: ClusterResult, x: np.ndarray, labels: np.ndarray) -> None:
    import numpy as np
    from sklearn.decomposition import PCA

    from mixopt.report._common import new_figure, save_png

    idx = np.random.default_rng(result.config.seed).permutation(len(x))[:_MAP_POINTS]
    idx = idx[labels[idx] >= 0]
    xy = PCA(n_components=2, random_state=result.config.seed).fit_transform(x[idx])
    fig = new_figure(7, 5.5)
    ax = fig.add_subplot()
    for c, name in enumerate(result.names):
        pts = xy[labels[idx] == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.6, label=name)
    ax.legend(markerscale=3, fontsize=7, loc="best", ncols=1 + result.k // 12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Records on the embeddings' first two principal components")
    save_png(fig, path)


def _page(result: ClusterResult, labels: np.ndarray, texts: Sequence[str]) -> str:
    import numpy as np

    c = result.config
    how = (
        f"k = {c.k} (given)"
        if c.k is not None
        else f"k = {result.k} by {c.metric} over {c.k_range[0]}:{c.k_range[1]} ({result.k_reason})"
    )
    rows = []
    for i, (name, size, terms) in enumerate(
        zip(result.names, result.sizes, result.terms, strict=True)
    ):
        members = np.flatnonzero(labels == i)[:_SAMPLES]
        samples = "".join(f"<pre>{html.escape(texts[j][:_SAMPLE_CHARS])}</pre>" for j in members)
        rows.append(
            f"<tr><td><b>{html.escape(name)}</b></td><td>{size:,}</td>"
            f"<td>{html.escape(', '.join(terms))}</td><td>{samples}</td></tr>"
        )
    small = result.small
    note = (
        f"<p>{len(small.sizes)} cluster(s) under min size {c.min_size} "
        f"({small.records:,} records) were {small.action}{'d' if small.action == 'merge' else 'ped'}.</p>"
        if small.sizes
        else ""
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>mixopt clusters</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}}
pre{{white-space:pre-wrap;font-size:11px;background:#f6f6f6;margin:2px 0;padding:3px}}</style>
</head><body><h1>Clusters of {result.records:,} records</h1>
<p>method {html.escape(c.method)}, embedding {html.escape(c.embed)}, {html.escape(how)},
seed {c.seed}. Domains file: <code>../domains.json</code>.</p>{note}
<h2>Sizes and top terms</h2><img src="sizes.png" alt="cluster sizes">
<h2>Choosing k</h2><img src="k_selection.png" alt="k selection">
<h2>Map</h2><img src="map.png" alt="2-D map of the clusters">
<h2>Clusters</h2><table><tr><th>domain</th><th>records</th><th>top terms</th>
<th>sample records</th></tr>{"".join(rows)}</table></body></html>
"""
