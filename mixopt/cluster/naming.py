"""From raw labels to named clusters: tiny clusters merged or dropped, clusters ordered by
size, each named by its most distinctive TF-IDF terms."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixopt.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SmallClusters", "cluster_names", "handle_small", "order_by_size", "top_terms"]

_TERMS_SAMPLE = 2_000  # records per cluster the terms are computed from: enough for a stable top 5
_NAME_TERMS = 2  # terms in a name: 'sql_select' says more than 'sql', and stays short
_WORD = r"(?u)\b[^\W\d_]{3,}\b"  # words of 3+ letters: names from words, never from numbers


@dataclass(frozen=True)
class SmallClusters:
    """What ``min_size`` did: the sizes of the clusters merged or dropped (before ordering)."""

    action: str
    sizes: tuple[int, ...]
    records: int


def handle_small(
    x: np.ndarray, labels: np.ndarray, min_size: int, action: str
) -> tuple[np.ndarray, SmallClusters]:
    """Merge each cluster under ``min_size`` into the nearest big one (by centroid), or drop
    it (its records get label -1)."""
    import numpy as np

    from mixopt.cluster.methods import centroids, nearest

    k = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    small = [c for c in range(k) if 0 < counts[c] < min_size]
    big = [c for c in range(k) if counts[c] >= min_size]
    if not small:
        return labels, SmallClusters(action, (), 0)
    if not big:
        raise ConfigError(
            f"every cluster has fewer than min size {min_size} records "
            f"(largest: {int(counts.max())}); lower --min-size or k"
        )
    out = labels.copy()
    moved = np.isin(labels, small)
    if action == "drop":
        out[moved] = -1
    else:
        centres = centroids(x, labels, k)[big]
        out[moved] = np.asarray(big)[nearest(x[moved], centres)]
    return out, SmallClusters(action, tuple(int(counts[c]) for c in small), int(moved.sum()))


def order_by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..m-1 by size (largest first; ties by first record), -1 kept: the same
    clustering always gets the same numbers."""
    import numpy as np

    used = [int(c) for c in np.unique(labels) if c >= 0]
    first = {c: int(np.argmax(labels == c)) for c in used}
    counts = {c: int((labels == c).sum()) for c in used}
    order = sorted(used, key=lambda c: (-counts[c], first[c]))
    mapping = np.full(int(labels.max()) + 2, -1, dtype=np.int64)
    for new, old in enumerate(order):
        mapping[old] = new
    out: np.ndarray = mapping[labels]  # labels of -1 index the last slot, which stays -1
    return out


def top_terms(
    texts: Sequence[str], labels: np.ndarray, n_terms: int = 5, seed: int = 0
) -> list[list[str]]:
    """Each cluster's most distinctive words: mean TF-IDF inside it minus the mean outside."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    k = int(labels.max()) + 1
    rng = np.random.default_rng(seed)
    idx = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:_TERMS_SAMPLE] for c in range(k)]
    )
    vectorizer = TfidfVectorizer(
        token_pattern=_WORD,
        lowercase=True,
        stop_words="english",
        sublinear_tf=True,
        max_features=50_000,
        dtype=np.float32,
    )
    try:
        m = vectorizer.fit_transform([texts[i] for i in idx])
    except ValueError:  # no words at all (numbers, symbols)
        return [[] for _ in range(k)]
    vocab = vectorizer.get_feature_names_out()
    sub = labels[idx]
    means = np.vstack([np.asarray(m[sub == c].mean(0)).ravel() for c in range(k)])
    out = []
    for c in range(k):
        others = np.delete(means, c, axis=0).mean(0) if k > 1 else 0.0
        lift = means[c] - others
        ranked = np.lexsort((vocab, -lift))  # ties broken alphabetically: stable names
        out.append([str(vocab[j]) for j in ranked[:n_terms] if lift[j] > 0])
    return out


def cluster_names(terms: Sequence[Sequence[str]]) -> list[str]:
    """Unique valid domain names from each cluster's top terms (``cluster_3`` without any)."""
    names: list[str] = []
    for i, words in enumerate(terms):
        clean = [w for w in (re.sub(r"[^a-z0-9]+", "", t.lower()) for t in words) if w]
        name = "_".join(clean[:_NAME_TERMS])[:56] or f"cluster_{i}"
        extra = _NAME_TERMS
        while name in names and extra < len(clean):  # a clash: one more term tells them apart
            name = f"{name}_{clean[extra]}"[:56]
            extra += 1
        base, n = name, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names
