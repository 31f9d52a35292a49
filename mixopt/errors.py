"""Errors a user can act on.

Every expected failure raises a :class:`MixoptError`; the CLI prints each of its
problems on one line and exits with status 2. Anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "ConfigError",
    "InfeasibleMixtureError",
    "MixoptError",
    "did_you_mean",
    "error_line",
    "first_line",
]


class MixoptError(Exception):
    """A failure caused by the user's input or environment, explained in one line per problem."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


class ConfigError(MixoptError):
    """A config or data file is malformed, or its values do not fit together."""


class InfeasibleMixtureError(MixoptError):
    """The proportions ask a domain for more tokens than its data allows within its cap."""


def did_you_mean(
    word: str, choices: Iterable[str], aliases: Mapping[str, str] | None = None
) -> str:
    """`` Did you mean: x?`` for the closest choice, or an empty string.

    Case does not count (``TPE`` is close to ``tpe``); ``aliases`` maps words that are not
    spelled like their choice but mean it (``file`` for ``path``), matched in lower case."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    key = str(word).lower()
    if aliases and key in aliases and aliases[key] in options:
        return f" Did you mean: {aliases[key]}?"
    close = difflib.get_close_matches(key, list(lowered), n=1, cutoff=0.6)
    return f" Did you mean: {lowered[close[0]]}?" if close else ""


def first_line(exc: BaseException, default: str = "") -> str:
    """The first line of an exception's message (``default`` when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else default


def error_line(exc: BaseException) -> str:
    """One line: the exception's type and the first line of its message."""
    return f"{type(exc).__name__}: {first_line(exc)}".rstrip(": ")
