"""Filters as masks on cached per-record scores: a domain's pool, shrunk to the records kept.

A trial's filters are flat ``{key: threshold}``: ``<scorer>.<bound>`` for every domain,
``<domain>/<scorer>.<bound>`` for one (it overrides the first), ``bound`` being ``min`` or
``max`` (a record is kept when ``min <= score <= max``). The filtered pool is a
:class:`TokenizedDomain` keeping only those ``rows``: allocation and sampling read its tokens, records and lengths as
they read any domain's, so caps, feasibility and the exact budget hold on what is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mixopt.data.tokenize import TokenizedDomain

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BOUNDS", "filter_domains", "keep_mask", "keep_ranges", "split_key"]

BOUNDS = ("min", "max")


def split_key(key: str) -> tuple[str | None, str, str]:
    """``(domain or None, scorer, bound)`` of a filter key."""
    scope, _, rest = key.rpartition("/")
    scorer, _, bound = rest.rpartition(".")
    return scope or None, scorer, bound


def keep_ranges(filters: Mapping[str, float], domain: str) -> dict[str, tuple[float, float]]:
    """Per scorer, the ``[min, max]`` of scores ``domain`` keeps under ``filters``."""
    out: dict[str, list[float]] = {}
    for scoped in (False, True):  # a domain's own thresholds after the shared ones
        for key, value in filters.items():
            where, scorer, bound = split_key(key)
            if (where is not None) == scoped and where in (None, domain):
                rng = out.setdefault(scorer, [float("-inf"), float("inf")])
                rng[BOUNDS.index(bound)] = float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


def keep_mask(
    scores: Mapping[str, str], ranges: Mapping[str, tuple[float, float]], n: int
) -> np.ndarray:
    """Which of ``n`` records every range keeps (``scores``: scorer -> cached ``.npy``)."""
    import numpy as np

    keep = np.ones(n, dtype=bool)
    for scorer, (low, high) in ranges.items():
        values = np.load(scores[scorer], mmap_mode="r")
        keep &= (values >= low) & (values <= high)
    return keep


def filter_domains(
    domains: Sequence[TokenizedDomain],
    scores: Mapping[str, Mapping[str, str]],
    filters: Mapping[str, float],
) -> tuple[TokenizedDomain, ...]:
    """The domains with ``filters`` applied (a domain no filter names is returned as it is)."""
    import numpy as np

    out: list[TokenizedDomain] = []
    for d in domains:
        ranges = keep_ranges(filters, d.name)
        if not ranges:
            out.append(d)
            continue
        # scores are per cached record: the mask is on the whole table, then kept rows are
        # those of the domain's own (a --target-budget pool is already a subset of them)
        whole = dataclasses.replace(d, rows=None, _table=[])
        lengths = whole.lengths()
        mask = keep_mask(scores[d.name], ranges, len(lengths))
        base = (
            np.arange(len(lengths), dtype=np.int64)
            if d.rows is None
            else np.asarray(d.rows, dtype=np.int64)
        )
        rows = base[mask[base]]
        out.append(
            dataclasses.replace(
                d, rows=rows, num_records=len(rows), num_tokens=int(lengths[rows].sum()), _table=[]
            )
        )
    return tuple(out)


def source_rows(domain: TokenizedDomain, indices: Any) -> Any:
    """Indices into ``domain``'s own records (through its filter, if it has one)."""
    return indices if domain.rows is None else domain.rows[indices]
