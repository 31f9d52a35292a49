"""Domain data: the domains file, loading, tokenization with a cache, allocation and sampling."""

from __future__ import annotations

from mixopt.data.allocation import (
    Allocation,
    allocate,
    check_budget,
    largest_remainder,
    max_shares,
    natural_mixture,
    normalize_mixture,
    scaled_mixture,
    uniform_mixture,
)
from mixopt.data.sampling import DomainDraw, MixtureSample, PackedSequences, sample_mixture
from mixopt.data.spec import DEFAULT_MAX_EPOCHS, DomainSpec, load_domains, parse_domains
from mixopt.data.tokenize import TokenizedDomain, default_cache_dir, tokenize_domains

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "Allocation",
    "DomainDraw",
    "DomainSpec",
    "MixtureSample",
    "PackedSequences",
    "TokenizedDomain",
    "allocate",
    "check_budget",
    "default_cache_dir",
    "largest_remainder",
    "load_domains",
    "max_shares",
    "natural_mixture",
    "normalize_mixture",
    "parse_domains",
    "sample_mixture",
    "scaled_mixture",
    "tokenize_domains",
    "uniform_mixture",
]
