"""Draw a seeded training set of exactly ``budget`` tokens and pack it into sequences.

Each domain's records are drawn independently (a seeded stream per domain, so adding a
domain leaves the others' draws unchanged): whole passes over the data while the
allocation allows, then a seeded random subset for the rest, the last record cut so the
domain contributes exactly its allocated tokens. The records of all domains are then
shuffled together and concatenated (an end-of-sequence token already ends each one).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixopt.data.allocation import Allocation, allocate
from mixopt.data.tokenize import TokenizedDomain

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DomainDraw",
    "MixtureSample",
    "PackedSequences",
    "draw_records",
    "plan_records",
    "sample_mixture",
]


@dataclass(frozen=True)
class DomainDraw:
    """What one domain contributed to a sample."""

    name: str
    tokens: int
    """Tokens drawn (exactly the allocation)."""
    records: int
    """Records drawn, repeats counted (the last one may be cut short)."""
    epochs: float
    """Passes over the domain's tokens."""
    indices: Any
    """Record indices in draw order (numpy int64)."""


@dataclass(frozen=True)
class PackedSequences:
    """Fixed-length training sequences; the last may be padded."""

    input_ids: Any
    """(n, seq_len) int64."""
    labels: Any
    """(n, seq_len) int64; -100 where no loss is taken (prompts, padding)."""
    attention_mask: Any
    """(n, seq_len) int64; 0 on padding."""

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens."""
        return int(self.attention_mask.sum())


@dataclass(frozen=True)
class MixtureSample:
    """A sampled training set: a token stream of exactly the budget, with its provenance."""

    input_ids: Any
    """(budget,) int32 token stream."""
    loss_mask: Any
    """(budget,) bool: which tokens carry loss."""
    allocation: Allocation
    draws: tuple[DomainDraw, ...]
    seed: int

    def pack(self, seq_len: int, pad_id: int = 0) -> PackedSequences:
        """Cut the stream into ``seq_len`` sequences; the last is padded (exact budget, no drop)."""
        import numpy as np

        if seq_len < 2:
            raise ValueError("seq_len must be at least 2")
        n = -(-len(self.input_ids) // seq_len)
        ids = np.full(n * seq_len, pad_id, dtype=np.int64)
        labels = np.full(n * seq_len, -100, dtype=np.int64)
        attn = np.zeros(n * seq_len, dtype=np.int64)
        k = len(self.input_ids)
        ids[:k] = self.input_ids
        labels[:k] = np.where(self.loss_mask, self.input_ids, -100)
        attn[:k] = 1
        shape = (n, seq_len)
        return PackedSequences(ids.reshape(shape), labels.reshape(shape), attn.reshape(shape))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per-domain tokens, records and epochs, for logs and manifests."""
        return {
            d.name: {"tokens": d.tokens, "records": d.records, "epochs": d.epochs}
            for d in self.draws
        }


def draw_records(
    lengths: np.ndarray, tokens: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Record indices whose lengths add up to at least ``tokens``, and how many tokens of the
    last one to keep so the total is exactly ``tokens``."""
    import numpy as np

    total = int(lengths.sum())
    if tokens <= 0:
        return np.zeros(0, dtype=np.int64), 0
    full, rest = divmod(tokens, total)
    parts = [rng.permutation(len(lengths)) for _ in range(full)]
    keep = int(lengths[parts[-1][-1]]) if parts else 0
    if rest:
        perm = rng.permutation(len(lengths))
        cum = np.cumsum(lengths[perm])
        k = int(np.searchsorted(cum, rest))  # first record at which the running total reaches rest
        parts.append(perm[: k + 1])
        keep = rest - (int(cum[k - 1]) if k else 0)
    return np.concatenate(parts).astype(np.int64), keep


def plan_records(
    domains: Sequence[TokenizedDomain], allocation: Allocation, seed: int
) -> list[tuple[np.ndarray, int]]:
    """Per domain (in order): the drawn record indices and the tokens kept of the last one."""
    import numpy as np

    plans = []
    for d in domains:
        # one stream per domain: seeded by the run's seed and the domain's name
        rng = np.random.default_rng([seed, zlib.crc32(d.name.encode())])
        plans.append(draw_records(d.lengths(), allocation.tokens[d.name], rng))
    return plans


def document_order(counts: Sequence[int], seed: int) -> np.ndarray:
    """A seeded shuffle of all drawn records: rows of (domain position, draw position)."""
    import numpy as np

    rng = np.random.default_rng([seed, 0x6D6978])  # a stream of its own, apart from the domains'
    pairs = np.concatenate(
        [np.stack([np.full(c, i), np.arange(c)], axis=1) for i, c in enumerate(counts)]
        or [np.zeros((0, 2))]
    ).astype(np.int64)
    return pairs[rng.permutation(len(pairs))]


def sample_mixture(
    domains: Sequence[TokenizedDomain], mixture: Mapping[str, float], budget: int, seed: int = 0
) -> MixtureSample:
    """Sample exactly ``budget`` tokens of ``mixture``; the same ``seed`` gives the same sample."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    allocation = allocate(mixture, budget, domains)
    plans = plan_records(domains, allocation, seed)
    streams, masks, starts, draws = [], [], [], []
    for d, (idx, keep) in zip(domains, plans, strict=True):
        n = allocation.tokens[d.name]
        table = d.table().take(pa.array(idx))
        # a writable copy
        ids = pc.list_flatten(table.column("input_ids")).to_numpy()[:n].astype(np.int32)
        if "loss_mask" in table.column_names:
            mask = pc.list_flatten(table.column("loss_mask")).to_numpy()[:n].astype(bool)
        else:
            mask = np.ones(n, dtype=bool)
        lengths = d.lengths()[idx]
        if len(lengths) and keep < lengths[-1] and d.eos_id is not None:
            # the cut record still ends with its separator, so it is not read as running on
            # into the next record once the stream is shuffled and packed
            ids[-1], mask[-1] = d.eos_id, True
        if len(lengths):
            lengths[-1] = keep
        streams.append(ids)
        masks.append(mask)
        starts.append(np.concatenate([[0], np.cumsum(lengths)]))
        draws.append(DomainDraw(d.name, n, len(idx), allocation.epochs[d.name], idx))
    order = document_order([len(s) - 1 for s in starts], seed).tolist()
    spans = [(i, starts[i][j], starts[i][j + 1]) for i, j in order]
    input_ids = np.concatenate([streams[i][a:b] for i, a, b in spans] or [np.zeros(0, np.int32)])
    loss_mask = np.concatenate([masks[i][a:b] for i, a, b in spans] or [np.zeros(0, bool)])
    assert len(input_ids) == budget, (len(input_ids), budget)
    return MixtureSample(input_ids, loss_mask, allocation, tuple(draws), seed)
