"""The ``filters:`` section of a search space: per scorer, thresholds kept fixed or searched
by the same sampler as the shares (they are parameters of the trial)::

    filters:
      word_repetition: {max: [0.05, 0.6], rep_len: 10}   # [low, high]: searched
      ifd: {min: [0.0, 0.5], max: [0.5, 1.5]}
      length: {min: 8}                                    # a number: fixed
      per_domain:                                         # one domain's own thresholds
        chat: {ifd: {min: 0.2, max: 0.9}}

A record is kept when ``min <= score <= max``. Other keys of a scorer's entry are its
settings (``rep_len``); a scorer named only under ``per_domain`` uses its defaults.
A trial's values are ``{key: threshold}`` with the keys of :mod:`mixopt.data.filtering`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mixopt.data.filtering import BOUNDS
from mixopt.errors import ConfigError, did_you_mean
from mixopt.setting import is_number

__all__ = ["FilterSpace", "Threshold", "parse_filters"]

PER_DOMAIN = "per_domain"


@dataclass(frozen=True)
class Threshold:
    """One bound of one scorer (for all domains, or one): fixed, or searched in ``[low, high]``."""

    scorer: str
    bound: str
    """``min`` or ``max``."""
    low: float
    high: float
    """Equal to ``low`` when the threshold is fixed."""
    domain: str | None = None

    @property
    def key(self) -> str:
        """The trial's name for it: ``scorer.bound`` or ``domain/scorer.bound``."""
        return f"{self.domain + '/' if self.domain else ''}{self.scorer}.{self.bound}"

    @property
    def searched(self) -> bool:
        return self.high > self.low

    @property
    def loosest(self) -> float:
        """The value that keeps the most records."""
        return self.low if self.bound == "min" else self.high


@dataclass(frozen=True)
class FilterSpace:
    """The thresholds a study applies or searches; empty: no filters."""

    thresholds: tuple[Threshold, ...] = ()
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per scorer named anywhere, its settings (empty for the defaults)."""

    def __bool__(self) -> bool:
        return bool(self.thresholds)

    def suggest(self, trial: Any) -> dict[str, float]:
        """Every threshold's value for one trial (searched ones asked as ``filter.KEY``)."""
        return {
            t.key: trial.suggest_float(f"filter.{t.key}", t.low, t.high) if t.searched else t.low
            for t in self.thresholds
        }

    def loosest(self) -> dict[str, float]:
        """The values that keep the most records (what preflight checks data is left at)."""
        return {t.key: t.loosest for t in self.thresholds}

    def domains_of(self, scorer: str, names: list[str]) -> list[str]:
        """The domains a scorer's filter applies to."""
        scoped = {t.domain for t in self.thresholds if t.scorer == scorer}
        return list(names) if None in scoped else [n for n in names if n in scoped]

    def scorers_by_domain(self, names: list[str]) -> dict[str, list[str]]:
        """Per domain, the scorers its filters read (what :func:`score_domains` computes)."""
        return {n: [s for s in self.settings if n in self.domains_of(s, names)] for n in names}

    def problems(self, names: list[str]) -> list[str]:
        """Thresholds naming an unknown domain (one line each)."""
        return [
            f"filters: per_domain names unknown domain {d!r}.{did_you_mean(d, names)}"
            for d in dict.fromkeys(t.domain for t in self.thresholds if t.domain is not None)
            if d not in names
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": {t.key: [t.low, t.high] for t in self.thresholds},
            "settings": {k: dict(v) for k, v in self.settings.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FilterSpace:
        """The inverse of :meth:`to_dict` (what ``best_mixture.json``'s space holds)."""
        from mixopt.data.filtering import split_key

        thresholds = []
        for key, (low, high) in data.get("thresholds", {}).items():
            domain, scorer, bound = split_key(key)
            thresholds.append(Threshold(scorer, bound, float(low), float(high), domain))
        return cls(tuple(thresholds), {k: dict(v) for k, v in data.get("settings", {}).items()})


def parse_filters(raw: Any, origin: str) -> FilterSpace:
    """The ``filters:`` mapping of a space file; unknown scorers (did-you-mean), bad settings and
    inverted ranges are refused, one line each."""
    from mixopt.scorers import SCORERS, make_scorer

    if raw is None:
        return FilterSpace()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: filters must map scorer names to thresholds")
    problems: list[str] = []
    thresholds: list[Threshold] = []
    settings: dict[str, dict[str, Any]] = {}
    per_domain = raw.get(PER_DOMAIN) or {}
    entries: list[tuple[str | None, Any, Any]] = [
        (None, k, v) for k, v in raw.items() if k != PER_DOMAIN
    ]
    if not isinstance(per_domain, Mapping):
        problems.append(f"{origin}: filters.{PER_DOMAIN} must map domain names to scorers")
    else:
        entries += [(str(d), k, v) for d, m in per_domain.items() for k, v in (m or {}).items()]
    for domain, scorer, entry in entries:
        where = f"{origin}: filters.{domain + '.' if domain else ''}{scorer}"
        try:
            SCORERS.get(str(scorer))
        except ConfigError as exc:
            problems.extend(f"{origin}: filters: {p}" for p in exc.problems)
            continue
        if not isinstance(entry, Mapping) or not any(b in entry for b in BOUNDS):
            problems.append(
                f"{where}: expected {{min: ...}} and/or {{max: ...}} (a number, or [low, high] to search)"
            )
            continue
        own = {k: v for k, v in entry.items() if k not in BOUNDS}
        if domain is None or own:
            if domain is not None and scorer in settings and settings[scorer] != own:
                problems.append(
                    f"{where}: settings differ from the shared entry's; a scorer has one set of settings"
                )
            settings[str(scorer)] = own
        settings.setdefault(str(scorer), {})
        found = [
            _threshold(str(scorer), b, entry[b], domain, where, problems)
            for b in BOUNDS
            if b in entry
        ]
        kept = [t for t in found if t is not None]
        if len(kept) == 2 and kept[0].low > kept[1].high:
            problems.append(
                f"{where}: min (at least {kept[0].low:g}) is above max (at most {kept[1].high:g}): it keeps nothing"
            )
        thresholds += kept
    for scorer, own in settings.items():
        try:
            make_scorer(scorer, own)
        except ConfigError as exc:
            problems.extend(f"{origin}: filters: {p}" for p in exc.problems)
    if problems:
        raise ConfigError(problems)
    return FilterSpace(tuple(thresholds), settings)


def _threshold(
    scorer: str, bound: str, value: Any, domain: str | None, where: str, problems: list[str]
) -> Threshold | None:
    if is_number(value):
        return Threshold(scorer, bound, float(value), float(value), domain)
    if isinstance(value, list | tuple) and len(value) == 2 and all(is_number(v) for v in value):
        low, high = float(value[0]), float(value[1])
        if low > high:
            problems.append(
                f"{where}.{bound}: range [{low:g}, {high:g}] is inverted; write [low, high]"
            )
            return None
        return Threshold(scorer, bound, low, high, domain)
    problems.append(f"{where}.{bound}: expected a number or [low, high], got {value!r}")
    return None


def kept_table(
    filters: FilterSpace, domains: Sequence[Any], scores: Mapping[str, Mapping[str, str]]
) -> tuple[list[str], list[list[Any]]]:
    """``mixopt validate --space``'s table: per threshold at each end of its range (alone),
    the records and tokens each domain keeps (``-`` where it does not apply)."""
    from mixopt.data.filtering import filter_domains

    header = ["threshold", "value", *(d.name for d in domains)]
    rows: list[list[Any]] = []
    for t in filters.thresholds:
        for value in dict.fromkeys((t.low, t.high)):
            kept = filter_domains(domains, scores, {t.key: value})
            rows.append(
                [
                    t.key,
                    f"{value:g}",
                    *(
                        f"{k.num_records:,}/{d.num_records:,} rec, {k.num_tokens / max(1, d.num_tokens):.0%} tok"
                        if k is not d
                        else "-"
                        for k, d in zip(kept, domains, strict=True)
                    ),
                ]
            )
    return header, rows
