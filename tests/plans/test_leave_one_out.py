"""Leave-one-out's two measured variants (``aggregate``, ``share``) and the nearest domain they
use; what every statement of its lift carries (``estimate``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mixopt.plans import LeaveOneOut, OnePass, estimate_of, no_target_line
from mixopt.plans.leave_one_out import ESTIMATE, nearest_domain


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> tuple[Any, ...]:
    """Two domains of finance text (other seeds) and one of cooking text, tokenized."""
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.testing import make_records

    root = tmp_path_factory.mktemp("lodo-variants")
    entries = []
    for name, kind, seed in (
        ("cooking", "cooking", 3),
        ("finance_a", "finance", 1),
        ("finance_b", "finance", 2),
    ):
        path = root / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in make_records(kind, 120, seed)))
        entries.append({"domain": name, "path": str(path)})
    (root / "domains.json").write_text(json.dumps(entries))
    return tuple(
        tokenize_domains(load_domains(str(root / "domains.json")), tokenizer, root / "cache")
    )


def test_the_nearest_domain_is_the_one_of_the_same_kind(domains: tuple[Any, ...]) -> None:
    cooking, finance_a, finance_b = domains
    assert nearest_domain(finance_a, [cooking, finance_b]) == "finance_b"
    assert nearest_domain(finance_b, [finance_a, cooking]) == "finance_a"
    assert nearest_domain(cooking, [cooking]) == "cooking"  # itself, the one candidate


def test_nearest_moves_the_left_out_share_whole_and_spread_divides_it(
    domains: tuple[Any, ...],
) -> None:
    mixture = {"cooking": 0.5, "finance_a": 0.3, "finance_b": 0.2}
    budget = 2000
    _, spread = LeaveOneOut().without("finance_a", mixture, domains, budget)
    rest, near = LeaveOneOut(share="nearest").without("finance_a", mixture, domains, budget)
    assert [d.name for d in rest] == ["cooking", "finance_b"]
    assert spread == pytest.approx({"cooking": 0.5 / 0.7, "finance_b": 0.2 / 0.7}, abs=2e-3)
    assert near == pytest.approx({"cooking": 0.5, "finance_b": 0.5}, abs=2e-3)


def test_the_score_is_minus_the_mean_or_minus_the_worst_loss() -> None:
    losses = {"a": 2.0, "b": 4.0, "c": 3.0}
    assert LeaveOneOut().score(losses) == pytest.approx(-3.0)
    assert LeaveOneOut(aggregate="worst").score(losses) == pytest.approx(-4.0)


def test_only_a_plan_scored_off_the_target_says_so_and_shows_the_smallest_task() -> None:
    assert estimate_of(LeaveOneOut()) == ESTIMATE
    assert estimate_of(OnePass()) is None and no_target_line(OnePass()) is None
    assert estimate_of(object()) is None  # a plan of the user's that declares nothing
    line = no_target_line(LeaveOneOut())
    assert line is not None and ESTIMATE in line
    assert "--eval target.jsonl" in line and "kind: loss, data: target.jsonl" in line
