"""Per-record scores that filters keep or drop records by (repetition, length, IFD, perplexity).

Built-ins by name (``mixopt ls scorers``), a user's own as ``module:attr`` (a class or
factory taking the scorer's settings as keyword arguments), third parties through the
``mixopt.scorers`` entry-point group, and Data-Juicer's filter ops as ``dj:<op_name>`` where
``py-data-juicer`` is installed (:mod:`mixopt.scorers.data_juicer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mixopt.errors import ConfigError
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


class _Scorers(Registry[Any]):
    """The registry, plus ``dj:<op_name>``: a Data-Juicer filter op (checked offline when built)."""

    def get(self, name: str) -> Callable[..., Any]:
        from mixopt.scorers.data_juicer import PREFIX, dj_factory

        if str(name).startswith(PREFIX):
            return dj_factory(str(name))
        try:
            return super().get(name)
        except ConfigError as exc:
            if ":" in str(name):  # a module:attr that does not import: said as it is
                raise
            raise ConfigError(
                f"{exc.problems[0]}, or a Data-Juicer filter op as '{PREFIX}<op_name>'"
            ) from None

    def describe(self) -> list[tuple[str, str]]:
        from mixopt.scorers.data_juicer import INSTALL, PREFIX, installed_version

        version = installed_version()
        where = f"py-data-juicer {version} is installed" if version else f"needs {INSTALL}"
        row = (
            f"{PREFIX}<op_name>",
            f"A Data-Juicer filter op's own statistic, e.g. {PREFIX}special_characters_filter; ops "
            f"that need the network (models, downloads, installs) are refused ({where}).",
        )
        return [*super().describe(), row]


SCORERS: Registry[Any] = _Scorers(
    "scorer",
    "mixopt.scorers",
    {
        "word_repetition": WordRepetition,
        "char_repetition": CharRepetition,
        "length": Length,
        "perplexity": Perplexity,
        "ifd": InstructionFollowingDifficulty,
    },
    lambda scorer: [
        *(["uses the base model"] if uses_model(scorer) else []),
        *(["prompt/completion and chat records only"] if needs_instruction(scorer) else []),
    ],
)


def make_scorer(name: str, settings: dict[str, Any] | None = None) -> Any:
    """The scorer ``name`` built with ``settings``; a one-line ConfigError for a bad name or setting."""
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
