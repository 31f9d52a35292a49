"""From proportions to tokens per domain: exact, bounded, and within each repetition cap."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from mixopt.budget import format_budget
from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError, InfeasibleMixtureError, did_you_mean

__all__ = [
    "Allocation",
    "SizedDomain",
    "allocate",
    "check_budget",
    "largest_budget",
    "largest_remainder",
    "max_shares",
    "natural_mixture",
    "normalize_mixture",
    "scaled_mixture",
    "uniform_mixture",
]

_TOL = 1e-6  # proportions read from JSON or a sampler carry rounding error of this order


class SizedDomain(Protocol):
    """What allocation needs of a domain: its spec and token count (a ``TokenizedDomain``)."""

    @property
    def spec(self) -> DomainSpec: ...
    @property
    def num_tokens(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def capacity(self) -> int: ...


@dataclass(frozen=True)
class Allocation:
    """Tokens per domain for one mixture at one budget."""

    budget: int
    """Total tokens; the values of ``tokens`` sum to exactly this."""
    tokens: dict[str, int]
    """Tokens drawn from each domain."""
    epochs: dict[str, float]
    """Passes over each domain's data (tokens drawn / tokens held)."""


def largest_remainder(
    weights: Sequence[float], total: int, caps: Sequence[int] | None = None
) -> list[int]:
    """Integers proportional to ``weights`` that sum to exactly ``total``.

    Largest-remainder (Hamilton) rounding: floor every part, then hand the leftover units to
    the largest fractional parts (ties to the earlier part), so no part is a unit or more off.
    A part already at its cap in ``caps`` gets no leftover unit: a share exactly at a cap must
    not be pushed one token past it by rounding.
    """
    norm = math.fsum(weights)
    if total < 0 or norm <= 0 or any(w < 0 for w in weights):
        raise ValueError("need non-negative weights with a positive sum and a non-negative total")
    exact = [w / norm * total for w in weights]
    parts = [math.floor(x) for x in exact]
    room = (
        [math.inf] * len(parts)
        if caps is None
        else [c - p for c, p in zip(caps, parts, strict=True)]
    )
    order = sorted(range(len(exact)), key=lambda i: (parts[i] - exact[i], i))
    preferred = [i for i in order if room[i] >= 1] + [i for i in order if room[i] < 1]
    for k in range(total - sum(parts)):  # fewer than len(parts) units, barring float error
        parts[preferred[k % len(preferred)]] += 1
    return parts


def normalize_mixture(
    mixture: Mapping[str, float], domains: Sequence[SizedDomain]
) -> dict[str, float]:
    """Check a mixture against the domains (names, values, sum, bounds); domains it omits get 0."""
    names = [d.name for d in domains]
    problems = [
        f"mixture names unknown domain {k!r}.{did_you_mean(k, names)}"
        for k in mixture
        if k not in names
    ]
    bad = [k for k, v in mixture.items() if not _share(v)]
    problems += [
        f"mixture share of {k!r} must be a finite number >= 0, got {mixture[k]!r}" for k in bad
    ]
    if problems:
        raise ConfigError(problems)
    total = math.fsum(float(v) for v in mixture.values())
    if abs(total - 1.0) > _TOL:
        raise ConfigError(f"mixture shares must sum to 1, they sum to {total:.6g}")
    out = {n: float(mixture.get(n, 0.0)) / total for n in names}
    for d in domains:
        share, spec = out[d.name], d.spec
        if not spec.lower - _TOL <= share <= spec.upper + _TOL:
            what = (
                f"fixed at {spec.fixed_share}"
                if spec.fixed_share is not None
                else f"in [{spec.min_share}, {spec.max_share}]"
            )
            problems.append(f"mixture gives {d.name!r} a share of {share:.6g}; it must be {what}")
    if problems:
        raise ConfigError(problems)
    return out


def _share(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def max_shares(domains: Sequence[SizedDomain], budget: int) -> dict[str, float]:
    """The largest share of ``budget`` each domain can take: its upper bound, or less where its
    repetition cap runs out first."""
    return {d.name: min(d.spec.upper, d.capacity / budget) for d in domains}


def check_budget(domains: Sequence[SizedDomain], budget: int) -> None:
    """Raise if no mixture can fill ``budget`` within the caps and upper bounds."""
    reachable = sum(min(d.capacity, math.floor(d.spec.upper * budget)) for d in domains)
    if reachable < budget:
        raise InfeasibleMixtureError(
            f"budget {format_budget(budget)} ({budget:,} tokens) is more than the data can fill: "
            f"within the repetition caps and share bounds the domains hold {reachable:,} tokens"
        )


def allocate(
    mixture: Mapping[str, float], budget: int, domains: Sequence[SizedDomain]
) -> Allocation:
    """Tokens per domain for ``mixture``; :class:`InfeasibleMixtureError` if it passes a cap."""
    shares = normalize_mixture(mixture, domains)
    parts = _parts(shares, budget, domains)
    over = [
        f"{d.name} needs {n:,} tokens but holds {d.num_tokens:,} "
        f"x max_epochs {d.spec.max_epochs:g} "
        f"= {d.capacity:,} (max share {min(1.0, d.capacity / budget):.4f})"
        for d, n in zip(domains, parts, strict=True)
        if n > d.capacity
    ]
    if over:
        largest = largest_budget(shares, domains)
        raise InfeasibleMixtureError(
            f"mixture is infeasible at budget {format_budget(budget)}: "
            + "; ".join(over)
            + f"; the largest budget this mixture fits is {format_budget(largest)} "
            f"(--budget {largest}), or raise those domains' max_epochs"
        )
    tokens = {d.name: n for d, n in zip(domains, parts, strict=True)}
    epochs = {d.name: tokens[d.name] / d.num_tokens if d.num_tokens else 0.0 for d in domains}
    return Allocation(budget, tokens, epochs)


def _parts(shares: Mapping[str, float], budget: int, domains: Sequence[SizedDomain]) -> list[int]:
    return largest_remainder(
        [shares[d.name] for d in domains], budget, [d.capacity for d in domains]
    )


def largest_budget(shares: Mapping[str, float], domains: Sequence[SizedDomain]) -> int:
    """The largest budget at which the (normalized) ``shares`` stay within every repetition cap."""

    def fits(budget: int) -> bool:
        parts = _parts(shares, budget, domains)
        return all(n <= d.capacity for d, n in zip(domains, parts, strict=True))

    # past (cap + 1) / share a domain's rounded-down part alone passes its cap; below that,
    # rounding can still hand a capped domain's leftover unit to one with room, so search
    low, high = (
        0,
        min(
            math.floor((d.capacity + 1) / shares[d.name]) + 1 for d in domains if shares[d.name] > 0
        ),
    )
    while high - low > 1:  # fits() is monotone: parts only grow with the budget
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def uniform_mixture(domains: Sequence[SizedDomain], budget: int | None = None) -> dict[str, float]:
    """Equal shares, moved as little as needed to respect bounds, fixed shares and (given a
    budget) the repetition caps."""
    return scaled_mixture(domains, [1.0] * len(domains), budget)


def natural_mixture(domains: Sequence[SizedDomain], budget: int | None = None) -> dict[str, float]:
    """Shares proportional to each domain's tokens (what concatenating the data gives), made
    feasible the same way as :func:`uniform_mixture`."""
    return scaled_mixture(domains, [float(d.num_tokens) for d in domains], budget)


def scaled_mixture(
    domains: Sequence[SizedDomain], weights: Sequence[float], budget: int | None = None
) -> dict[str, float]:
    """Shares ``clip(t * weight, lower, upper)`` with ``t`` chosen so they sum to 1.

    Domains held at a bound give their surplus to (or take their deficit from) the others in
    proportion to their weights, which keeps the mixture's shape where the bounds allow it.
    A zero weight asks for the lower bound, and gets more only when the weighted domains at
    their upper bounds leave some of the budget over.
    """
    lo = [d.spec.lower for d in domains]
    hi = [min(d.spec.upper, d.capacity / budget) if budget else d.spec.upper for d in domains]
    if math.fsum(h if w > 0 else a for a, h, w in zip(lo, hi, weights, strict=True)) < 1 - _TOL:
        # the weighted domains cannot fill the budget even at their upper bounds (a proposal
        # at a corner of the exponential parameterization): the rest goes evenly to the
        # zero-weight ones, whose weight becomes a billionth of the smallest, so the weighted
        # ones reach their upper bounds before these take anything
        floor = 1e-9 * min((w for w in weights if w > 0), default=1e9)
        weights = [w if w > 0 else floor for w in weights]
    if (
        any(h < lo_i for lo_i, h in zip(lo, hi, strict=True))
        or math.fsum(h if w > 0 else lo_i for lo_i, h, w in zip(lo, hi, weights, strict=True))
        < 1 - _TOL
    ):
        raise InfeasibleMixtureError(
            "no mixture of these domains fits their bounds and caps at this budget"
        )

    def total(t: float) -> float:
        return math.fsum(min(max(t * w, a), b) for w, a, b in zip(weights, lo, hi, strict=True))

    low, high = 0.0, max(b / w for w, b in zip(weights, hi, strict=True) if w > 0)
    for _ in range(200):  # bisection on a monotone function: 200 halvings reach float precision
        mid = (low + high) / 2
        low, high = (mid, high) if total(mid) < 1 else (low, mid)
    shares = [min(max(high * w, a), b) for w, a, b in zip(weights, lo, hi, strict=True)]
    norm = math.fsum(shares)
    return {d.name: s / norm for d, s in zip(domains, shares, strict=True)}
