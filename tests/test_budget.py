from __future__ import annotations

import pytest

from mixopt import ConfigError, parse_budget
from mixopt.budget import MAX_BUDGET, format_budget


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("50k", 50_000),
        ("50K", 50_000),
        ("1.5M", 1_500_000),
        ("1.5m", 1_500_000),
        ("2e6", 2_000_000),
        ("50000", 50_000),
        ("50_000", 50_000),
        ("1.1k", 1_100),
        ("3B", 3_000_000_000),
        (" 7k ", 7_000),
        ("1", 1),
        (12_345, 12_345),
        ("2.5e3", 2_500),
        ("10T", 10 * 10**12),
    ],
)
def test_parses_every_budget_form(text: str | int, tokens: int) -> None:
    assert parse_budget(text) == tokens


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "not a token count"),
        ("0", "at least 1"),
        ("50q", "not a token count"),
        ("1e99", "larger than the maximum"),
        ("", "not a token count"),
        ("k", "not a token count"),
        ("1.00001k", "whole number"),
        ("5__0", "not a token count"),
        ("50_", "not a token count"),
        ("0.5", "whole number"),
        (True, "token count"),
        (0, "at least 1"),
        (MAX_BUDGET + 1, "maximum"),
        ("nan", "not a token count"),
        ("inf", "not a token count"),
    ],
)
def test_rejects_bad_budgets_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_budget(text)
    assert "\n" not in str(info.value)


def test_format_budget_round_trips() -> None:
    for tokens in (1, 999, 50_000, 1_500_000, 2_000_000_000):
        assert parse_budget(format_budget(tokens)) == tokens
