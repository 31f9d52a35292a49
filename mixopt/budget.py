"""Token budgets: ``"50k"``, ``"1.5M"``, ``"2e6"``, ``"50_000"`` → an exact token count.

The unit is tokens of the base model's tokenizer after formatting (chat template or
prompt + completion, with the end-of-sequence token that separates records), counting
prompt tokens that carry no loss. That is what a trial trains on, so one budget means
the same compute for every mixture.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from mixopt.errors import ConfigError

__all__ = ["MAX_BUDGET", "format_budget", "parse_budget"]

# 10T tokens: above every fine-tuning budget; anything larger is a typo (e.g. "1e99").
MAX_BUDGET = 10**13

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_PATTERN = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:e[+-]?[0-9]+)?)\s*([kmbgt]?)\s*$", re.I)


def parse_budget(value: str | int) -> int:
    """Parse a token budget; raise :class:`ConfigError` with a one-line reason if it is not one."""
    if isinstance(value, bool):
        raise ConfigError(f"Budget must be a token count like 50k, 1.5M or 2e6, not {value!r}.")
    if isinstance(value, int):
        tokens = Decimal(value)
    else:
        match = _PATTERN.match(str(value))
        if not match or "__" in match.group(1) or match.group(1).endswith("_"):
            raise ConfigError(
                f"Budget {value!r} is not a token count; use e.g. 50k, 1.5M, 2e6 or 50000."
            )
        try:  # Decimal, not float: "1.1k" must be exactly 1100
            tokens = Decimal(match.group(1).replace("_", "")) * _SUFFIX[match.group(2).lower()]
        except InvalidOperation as exc:
            raise ConfigError(f"Budget {value!r} is not a token count.") from exc
    if tokens > MAX_BUDGET:
        raise ConfigError(
            f"Budget {value!r} is larger than the maximum of {MAX_BUDGET:.0e} tokens."
        )
    if tokens != int(tokens):
        raise ConfigError(f"Budget {value!r} is not a whole number of tokens.")
    if tokens < 1:
        raise ConfigError(f"Budget {value!r} must be at least 1 token.")
    return int(tokens)


def format_budget(tokens: int) -> str:
    """Short human form: 50000 → ``50k``, 1500000 → ``1.5M``."""
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if tokens >= scale:
            return f"{tokens / scale:.4g}{suffix}"
    return str(tokens)
