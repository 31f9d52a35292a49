"""A study's trials as Optuna stores them, and the one codec for what mixopt adds to them.

Optuna's storage is the source of truth for the trials. mixopt keeps on each trial, as
user attributes: its role, the exact mixture it trained, its training knobs, its result
(scores, per-domain tokens, timings), and why it failed. Every key and every role string
is written and read here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "BUILTIN_BASELINES",
    "Attr",
    "TrialRecord",
    "baseline_role",
    "is_reused",
    "origin_text",
    "proposal_attrs",
    "record_of",
    "role_name",
    "write_proposal",
]


class Attr:
    """Optuna user-attribute keys."""

    ROLE = "role"
    MIXTURE = "mixture"
    TRAIN = "train"
    FILTERS = "filters"
    RESULT = "result"
    FAIL_REASON = "fail_reason"
    RETRIES = "retries"
    INTERRUPTED = "interrupted"
    """A trial left RUNNING by a killed driver; it was queued again under a new number."""
    RERUN_OF = "rerun_of"
    """On a trial queued again: the failed trial it replaces (every trial of the study had
    failed, a broken setup, and the study was resumed to run them once fixed)."""
    WARM_FROM = "warm_from"
    """``{"study": folder, "trial": number, "role": role, "how": "reused" | "prior"}``: the
    earlier study's trial this one came from (``--warm-start``). ``reused``: that trial's
    result, added as it is (not run here); ``prior``: its mixture, re-trained here."""
    INTERMEDIATE = "intermediate"
    """``[[step, score], ...]``: the intermediate scores of a trial in a study with several
    objectives, where Optuna takes none (``trial.report``); the early stopping reads them."""
    SHARE = "share."
    """``share.<domain>``: sortable columns in optuna-dashboard's trial table."""


SEARCH = "search"
REUSED, PRIOR = "reused", "prior"  # how a warm-started study took an earlier study's trial
_BASELINE = "baseline:"


BUILTIN_BASELINES = ("uniform", "natural")
"""The baselines every study scores: the seed noise is measured on them before the search,
and a transfer check re-runs them beside the answer."""


def baseline_role(name: str) -> str:
    """The role of the baseline ``name`` (``baseline:uniform``)."""
    return f"{_BASELINE}{name}"


def role_name(role: str) -> str | None:
    """The baseline's name for a baseline role, else None."""
    return role[len(_BASELINE) :] if role.startswith(_BASELINE) else None


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the study recorded it."""

    number: int
    role: str
    """``search``, or ``baseline:uniform`` / ``baseline:natural`` / ``baseline:NAME``."""
    state: str
    """COMPLETE, PRUNED, FAIL (or RUNNING/WAITING in an unfinished study)."""
    mixture: dict[str, float]
    train: dict[str, Any]
    """The training knobs the space searched for this trial (empty when none are)."""
    score: float | None
    """Final score (COMPLETE), last intermediate score (PRUNED), or None."""
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Everything the trial measured (per-domain tokens, timings, resources)."""
    intermediate: tuple[tuple[int, float], ...] = ()
    """(step, intermediate score) as reported to Optuna."""
    filters: dict[str, float] = field(default_factory=dict)
    """The thresholds on per-record scores it trained with (empty when the space has none)."""
    started: datetime | None = field(default=None, compare=False)
    ended: datetime | None = field(default=None, compare=False)
    origin: dict[str, Any] | None = None
    """Where an earlier study's trial came from (``--warm-start``; see :attr:`Attr.WARM_FROM`)."""
    scores: dict[str, float] = field(default_factory=dict)
    """Each objective's score, in the study's order (a completed trial of a study with
    objectives; ``score`` is the first's); empty otherwise."""

    @property
    def reused(self) -> bool:
        """An earlier study's result added as it is: not a trial this study ran."""
        return self.origin is not None and self.origin.get("how") == REUSED

    @property
    def seconds(self) -> float | None:
        """Wall-clock seconds from its start to its end (None while it runs)."""
        return (self.ended - self.started).total_seconds() if self.started and self.ended else None

    @property
    def baseline(self) -> str | None:
        """The baseline's name, or None for a searched trial."""
        return role_name(self.role)

    def to_dict(self) -> dict[str, Any]:
        """The trial as ``results.json`` lists it."""
        return {
            "number": self.number,
            "role": self.role,
            "state": self.state,
            "mixture": self.mixture,
            "train": self.train,
            "filters": self.filters,
            "score": self.score,
            "metrics": self.metrics,
            "error": self.error,
            "warm_from": self.origin,
            **({"scores": self.scores} if self.scores else {}),
        }


def record_of(t: Any) -> TrialRecord:
    """A :class:`TrialRecord` from an Optuna ``FrozenTrial``."""
    attrs = t.user_attrs
    result = dict(attrs.get(Attr.RESULT) or {})
    reported = t.intermediate_values or dict(attrs.get(Attr.INTERMEDIATE) or [])
    steps = tuple(sorted((int(s), float(v)) for s, v in reported.items()))
    score = t.values[0] if t.state.name == "COMPLETE" and t.values else None
    if t.state.name == "PRUNED" and steps:
        score = steps[-1][1]
    reason = attrs.get(Attr.FAIL_REASON)
    return TrialRecord(
        t.number,
        attrs.get(Attr.ROLE, SEARCH),
        t.state.name,
        dict(attrs.get(Attr.MIXTURE, {})),
        dict(attrs.get(Attr.TRAIN, {})),
        score,
        dict(result.get("metrics", {})),
        None if reason is None else str(reason),
        result,
        steps,
        dict(attrs.get(Attr.FILTERS, {})),
        t.datetime_start,
        t.datetime_complete,
        attrs.get(Attr.WARM_FROM),
        {str(k): float(v) for k, v in (result.get("scores") or {}).items()}
        if t.state.name == "COMPLETE"
        else {},
    )


def origin_text(origin: Mapping[str, Any]) -> str:
    """``reused from /path/old-study trial 7`` (or ``prior from ...``)."""
    return f"{origin.get('how')} from {origin.get('study')} trial {origin.get('trial')}"


def is_reused(t: Any) -> bool:
    """Whether an Optuna trial is an earlier study's result added as it is (``--warm-start``)."""
    return (t.user_attrs.get(Attr.WARM_FROM) or {}).get("how") == REUSED


def is_live(t: Any) -> bool:
    """Whether an Optuna trial counts (a killed driver's interrupted trial does not)."""
    return not t.user_attrs.get(Attr.INTERRUPTED)


def write_proposal(
    trial: Any,
    role: str,
    mixture: Mapping[str, float],
    train: Mapping[str, Any],
    filters: Mapping[str, float] | None = None,
) -> None:
    """Record on an asked trial what it will train."""
    for key, value in proposal_attrs(role, mixture, train, filters).items():
        trial.set_user_attr(key, value)


def proposal_attrs(
    role: str,
    mixture: Mapping[str, float],
    train: Mapping[str, Any],
    filters: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The user attributes that say what a trial trains."""
    shares = {f"{Attr.SHARE}{name}": round(share, 6) for name, share in mixture.items()}
    attrs = {Attr.ROLE: role, Attr.MIXTURE: dict(mixture), **shares, Attr.TRAIN: dict(train)}
    if filters:
        attrs[Attr.FILTERS] = dict(filters)
    return attrs
