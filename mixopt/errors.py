"""Errors a user can act on.

Every expected failure raises a :class:`MixoptError`; the CLI prints each of its
problems on one line and exits with its ``exit_status``: 2 for bad input, 3 for storage or
a disk that failed under a running study (:class:`StorageError`). A study stopped by a
signal raises :class:`StudyInterrupted` (exit 128 + the signal). Anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "ConfigError",
    "InfeasibleMixtureError",
    "MixoptError",
    "StorageError",
    "StudyInterrupted",
    "did_you_mean",
    "error_line",
    "first_line",
]


class MixoptError(Exception):
    """A failure caused by the user's input or environment, explained in one line per problem."""

    exit_status = 2
    """The CLI's exit status for it: bad input."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


class ConfigError(MixoptError):
    """A config or data file is malformed, or its values do not fit together."""


class StorageError(MixoptError):
    """The study's storage or disk failed while the study ran (a database that stopped, a
    full disk): the line names the cause and the command that resumes the study, whose
    finished trials are kept."""

    exit_status = 3


class StudyInterrupted(BaseException):
    """A running study was stopped by a signal (SIGINT, SIGTERM). A BaseException, as
    KeyboardInterrupt is: no trial's ``except Exception`` takes it for a failure of its own.
    ``resume``: the command that continues the study (empty until the study names it)."""

    def __init__(self, signum: int, resume: str = "") -> None:
        super().__init__(signum, resume)
        self.signum, self.resume = signum, resume

    @property
    def exit_status(self) -> int:
        """128 + the signal, as a shell reports a process a signal ended (130, 143)."""
        return 128 + self.signum

    def line(self) -> str:
        import signal

        name = signal.Signals(self.signum).name
        then = f"; its finished trials are kept: resume with {self.resume}" if self.resume else ""
        return f"the study was interrupted ({name}){then}"


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
