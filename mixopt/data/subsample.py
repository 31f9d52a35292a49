"""Repetition-matched proxies: each domain's pool cut by the ratio of the proxy's budget to
the target run's, so a mixture repeats each domain at the proxy as often as it would in the
target run (the same caps, the same feasibility, the same epochs).

A proxy trained on whole pools sees a small domain a few times and a large one not even
once, while the target run may see both many times over: the repetition a mixture implies,
one of the things that decides how well it trains, would differ between the two runs.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence

from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError

__all__ = ["SUBSAMPLE_SEED", "subsample_domains"]

SUBSAMPLE_SEED = (
    0x5B5  # fixed: every trial of a study, and every study of the same data, keeps the same records
)


def subsample_domains(
    domains: Sequence[TokenizedDomain], budget: int, target_budget: int
) -> tuple[TokenizedDomain, ...]:
    """Each domain keeping ``budget / target_budget`` of its tokens: a seeded random subset
    of its records, the smallest whose tokens reach that share (at least one record)."""
    if target_budget < budget:
        raise ConfigError(
            f"target_budget ({target_budget:,}) must be at least the budget ({budget:,}): a proxy cannot repeat data less than its whole pool allows"
        )
    return tuple(_subsample(d, budget / target_budget) for d in domains)


def _subsample(domain: TokenizedDomain, ratio: float) -> TokenizedDomain:
    import numpy as np

    if ratio >= 1.0:
        return domain
    lengths = domain.lengths()
    rng = np.random.default_rng([SUBSAMPLE_SEED, zlib.crc32(domain.name.encode())])
    order = rng.permutation(len(lengths))
    want = ratio * domain.num_tokens
    # the first record at which the running total reaches the share: pools shrink by the ratio to within one record
    keep = int(np.searchsorted(np.cumsum(lengths[order]), want)) + 1
    rows = np.sort(order[: min(keep, len(order))]).astype(np.int64)
    return dataclasses.replace(
        domain, rows=rows, num_records=len(rows), num_tokens=int(lengths[rows].sum()), _table=[]
    )
