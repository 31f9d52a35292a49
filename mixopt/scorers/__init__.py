"""Per-record scores that filters keep or drop records by (repetition, length, IFD, perplexity).

Built-ins by name (``mixopt ls scorers``), a user's own as ``module:attr`` (a class or
factory taking the scorer's settings as keyword arguments), third parties through the
``mixopt.scorers`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from mixopt.registry import Registry
from mixopt.scorers._base import ScoreInput, Scorer
from mixopt.scorers.model import InstructionFollowingDifficulty, Length, Perplexity
from mixopt.scorers.repetition import CharRepetition, WordRepetition

__all__ = [
    "SCORERS",
    "CharRepetition",
    "InstructionFollowingDifficulty",
    "Length",
    "Perplexity",
    "ScoreInput",
    "Scorer",
    "WordRepetition",
    "make_scorer",
]

SCORERS: Registry[Any] = Registry(
    "scorer",
    "mixopt.scorers",
    {
        "word_repetition": WordRepetition,
        "char_repetition": CharRepetition,
        "length": Length,
        "perplexity": Perplexity,
        "ifd": InstructionFollowingDifficulty,
    },
)


def make_scorer(name: str, settings: dict[str, Any] | None = None) -> Any:
    """The scorer ``name`` built with ``settings``; a one-line ConfigError for a bad name or setting."""
    from mixopt.errors import ConfigError

    factory = SCORERS.get(name)
    try:
        return factory(**(settings or {}))
    except TypeError as exc:
        raise ConfigError(f"scorer {name!r}: bad settings {settings} ({exc})") from None


def uses_model(scorer: Any) -> bool:
    """Whether ``scorer`` reads the base model (a user's scorer may leave the attribute out)."""
    return bool(getattr(scorer, "uses_model", False))


def needs_instruction(scorer: Any) -> bool:
    """Whether ``scorer`` refuses text records."""
    return bool(getattr(scorer, "needs_instruction", False))
