from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mixopt.data.allocation import (
    allocate,
    check_budget,
    largest_budget,
    largest_remainder,
    max_shares,
    natural_mixture,
    normalize_mixture,
    scaled_mixture,
    uniform_mixture,
)
from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError, InfeasibleMixtureError


@dataclass(frozen=True)
class Sized:
    """Just the sizes allocation needs (the real thing is a TokenizedDomain)."""

    spec: DomainSpec
    num_tokens: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def capacity(self) -> int:
        return int(self.num_tokens * self.spec.max_epochs)


def _domains(sizes: list[int], **spec_kwargs: object) -> list[Sized]:
    return [
        Sized(DomainSpec(f"d{i}", data=({"text": "x"},), **spec_kwargs), n)
        for i, n in enumerate(sizes)
    ]  # type: ignore[arg-type]


@given(
    weights=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=32).filter(
        lambda w: sum(w) > 0
    ),
    total=st.integers(0, 10**12),
)
def test_largest_remainder_sums_exactly_and_stays_within_one_unit(
    weights: list[float], total: int
) -> None:
    parts = largest_remainder(weights, total)
    assert sum(parts) == total
    norm = math.fsum(weights)
    assert all(
        abs(p - w / norm * total) < 1 + 1e-6 * total for p, w in zip(parts, weights, strict=True)
    )
    assert all(p >= 0 for p in parts)


@settings(max_examples=200)
@given(
    raw=st.lists(st.floats(0.001, 1), min_size=1, max_size=12),
    budget=st.integers(1, 10**9),
)
def test_any_feasible_mixture_allocates_the_exact_budget(raw: list[float], budget: int) -> None:
    domains = _domains([10**10] * len(raw))
    mixture = {d.name: w / sum(raw) for d, w in zip(domains, raw, strict=True)}
    alloc = allocate(mixture, budget, domains)
    assert sum(alloc.tokens.values()) == budget
    assert all(abs(alloc.tokens[k] - mixture[k] * budget) < 1 + 1e-9 * budget for k in mixture)


@settings(max_examples=200)
@given(
    sizes=st.lists(st.integers(1, 5000), min_size=2, max_size=8),
    budget=st.integers(1, 20_000),
    which=st.sampled_from(["uniform", "natural"]),
)
def test_baselines_fit_the_caps_and_allocate_without_passing_them(
    sizes: list[int], budget: int, which: str
) -> None:
    domains = _domains(sizes, max_epochs=2.0)
    if sum(d.capacity for d in domains) < budget:
        with pytest.raises(InfeasibleMixtureError):
            check_budget(domains, budget)
        return
    mixture = (uniform_mixture if which == "uniform" else natural_mixture)(domains, budget)
    assert abs(sum(mixture.values()) - 1) < 1e-9
    alloc = allocate(mixture, budget, domains)
    assert sum(alloc.tokens.values()) == budget
    assert all(alloc.tokens[d.name] <= d.capacity for d in domains)
    assert all(alloc.epochs[d.name] <= 2.0 for d in domains)


def test_uniform_respects_bounds_and_fixed_shares() -> None:
    specs = [
        DomainSpec("a", data=({"t": 1},), fixed_share=0.5),
        DomainSpec("b", data=({"t": 1},), max_share=0.1),
        DomainSpec("c", data=({"t": 1},)),
        DomainSpec("d", data=({"t": 1},), min_share=0.3),
    ]
    domains = [Sized(s, 10**9) for s in specs]
    mix = uniform_mixture(domains)
    assert mix["a"] == pytest.approx(0.5) and mix["b"] == pytest.approx(0.1)
    assert mix["c"] == pytest.approx(0.1) and mix["d"] == pytest.approx(0.3)
    natural = natural_mixture([Sized(s, n) for s, n in zip(specs[1:3], [100, 300], strict=True)])
    assert natural == pytest.approx({"b": 0.1, "c": 0.9})


@settings(max_examples=200)
@given(
    weights=st.lists(st.sampled_from([0.0, 1e-12, 0.3, 1.0, 27.6]), min_size=3, max_size=3),
    b_max=st.floats(0.05, 1.0),
)
@example(weights=[0.0, 1.0, 0.0], b_max=0.3)
@example(weights=[0.0, 1.0, 0.0], b_max=0.9)
def test_zero_weights_take_what_capped_domains_leave(weights: list[float], b_max: float) -> None:
    # a corner of the exponential parameterization (u = 1 gives a weight of 0) where the only
    # weighted domains are capped: the budget still fills, the rest going to the others evenly
    specs = [
        DomainSpec("a", data=({"t": 1},), min_share=0.1),
        DomainSpec("b", data=({"t": 1},), max_share=b_max),
        DomainSpec("c", data=({"t": 1},)),
        DomainSpec("d", data=({"t": 1},), fixed_share=0.1),
    ]
    mix = scaled_mixture([Sized(s, 10**9) for s in specs], [*weights, 0.0])
    assert math.fsum(mix.values()) == pytest.approx(1)
    assert mix["a"] >= 0.1 - 1e-9 and 0 <= mix["b"] <= b_max + 1e-9 and mix["c"] >= 0
    assert mix["d"] == pytest.approx(0.1)
    if weights == [0.0, 1.0, 0.0]:
        assert mix["b"] == pytest.approx(min(b_max, 0.8))
        assert mix["a"] == pytest.approx(max(0.1, (0.9 - b_max) / 2))


def test_infeasible_mixture_names_the_domain_and_its_max_share() -> None:
    domains = _domains([1000, 100_000])
    with pytest.raises(InfeasibleMixtureError) as info:
        allocate({"d0": 0.5, "d1": 0.5}, 20_000, domains)
    msg = str(info.value)
    assert "d0 needs 10,000 tokens but holds 1,000 x max_epochs 4 = 4,000 (max share 0.2000)" in msg
    assert "d1" not in msg.split("infeasible")[1].split(":", 1)[1]
    assert max_shares(domains, 20_000) == {"d0": 0.2, "d1": 1.0}


def test_a_share_exactly_at_the_cap_is_feasible() -> None:
    domains = _domains([1000, 1001, 1003], max_epochs=1.0)
    budget = 3004
    mixture = {d.name: d.num_tokens / budget for d in domains}
    alloc = allocate(mixture, budget, domains)
    assert alloc.tokens == {"d0": 1000, "d1": 1001, "d2": 1003}


def test_budget_beyond_all_data() -> None:
    with pytest.raises(InfeasibleMixtureError, match="more than the data can fill"):
        check_budget(_domains([100, 200], max_epochs=1.0), 301)
    check_budget(_domains([100, 200], max_epochs=1.0), 300)


@pytest.mark.parametrize(
    ("mixture", "message"),
    [
        ({"d0": 0.5, "d1": 0.4}, "sum to 1, they sum to 0.9"),
        ({"d0": 0.5, "dd1": 0.5}, "unknown domain 'dd1'. Did you mean: d1?"),
        ({"d0": -0.5, "d1": 1.5}, "finite number >= 0"),
        ({"d0": float("nan"), "d1": 1.0}, "finite number >= 0"),
        ({"d0": "half", "d1": 0.5}, "finite number >= 0"),
    ],
)
def test_bad_mixtures(mixture: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_mixture(mixture, _domains([100, 100]))  # type: ignore[arg-type]
    assert any(message in p for p in info.value.problems), info.value.problems


def test_bounds_are_enforced_on_given_mixtures() -> None:
    domains = [
        Sized(DomainSpec("a", data=({"t": 1},), max_share=0.3), 10**6),
        Sized(DomainSpec("b", data=({"t": 1},)), 10**6),
    ]
    with pytest.raises(ConfigError, match=r"share of 0.5; it must be in \[0.0, 0.3\]"):
        normalize_mixture({"a": 0.5, "b": 0.5}, domains)
    assert normalize_mixture({"b": 1.0, "a": 0.0}, domains) == {"a": 0.0, "b": 1.0}


@settings(deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=6),
    raw=st.lists(st.floats(0.001, 1), min_size=6, max_size=6),
)
def test_largest_budget_fits_and_one_token_more_does_not(
    sizes: list[int], raw: list[float]
) -> None:
    domains = _domains(sizes)
    weights = raw[: len(sizes)]
    mixture = {d.name: w / math.fsum(weights) for d, w in zip(domains, weights, strict=True)}
    shares = normalize_mixture(mixture, domains)
    largest = largest_budget(shares, domains)
    allocate(mixture, largest, domains)  # fits
    with pytest.raises(InfeasibleMixtureError, match=rf"fits is \S+ \(--budget {largest}\)"):
        allocate(mixture, largest + 1, domains)
