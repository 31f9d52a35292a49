"""Search spaces: the simplex of domain shares (bounds, fixed shares, caps) and, optionally,
training knobs searched jointly. Files under ``search_spaces/`` are data::

    mixture:
      parameterization: auto        # auto | exponential | logratio
      bounds:                       # per-domain overrides of the domains file
        sql: {min_share: 0.2}
        chat: {fixed_share: 0.1}
      max_epochs: 4                 # or {domain: cap}
    train:                          # optional: searched with the mixture
      learning_rate: {low: 1.0e-4, high: 3.0e-3, log: true}
      lora_rank: {choices: [4, 8, 16]}
    filters:                        # optional: thresholds on per-record scores
      word_repetition: {max: [0.05, 0.6]}   # see mixopt.search.proposals.filters

How the simplex is parameterized matters to the sampler:

- ``exponential`` (for TPE, random, QMC): one ``u_i`` in (0, 1] per searched domain,
  ``e_i = -log(u_i)``; shares ``e_i / sum(e)``. Independent uniform ``u`` give a flat
  Dirichlet, so random proposals cover the simplex evenly (corners included).
- ``logratio`` (for GP and CMA-ES): additive log-ratios ``z_i = log(p_i / p_ref)`` in
  [-6, 6] for all but one reference domain: an unconstrained, non-redundant space in which
  distances mean something, which model-based samplers need.

Either way the proposal is then moved into the feasible set (bounds, fixed shares, and the
repetition caps at the study's budget) by :func:`scaled_mixture`, so an infeasible mixture
is never trained.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixopt.data.allocation import scaled_mixture
from mixopt.data.spec import DomainSpec, check_shares
from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError, did_you_mean
from mixopt.io import read_yaml
from mixopt.search.proposals.filters import FilterSpace, parse_filters

__all__ = [
    "BUILTIN_SPACES",
    "DEFAULT_SPACE",
    "KnobRange",
    "SearchSpace",
    "Simplex",
    "describe_spaces",
    "load_space",
]

# package data (pyproject), so a wheel install finds them; the repo's top-level search_spaces/ links here
BUILTIN_SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
PARAMETERIZATIONS = ("auto", "exponential", "logratio")
DEFAULT_SPACE = "default"  # search_spaces/default.yaml: the simplex over all domains
_LOGRATIO_RANGE = 6.0  # e^12 between extremes: shares down to ~1e-5 of another's
_KNOBS = {
    "learning_rate": float,
    "lora_rank": int,
    "lora_alpha": int,
    "lora_dropout": float,
    "warmup_ratio": float,
    "weight_decay": float,
    "batch_size": int,
}
_BOUND_KEYS = ("min_share", "max_share", "fixed_share")


@dataclass(frozen=True)
class KnobRange:
    """A training knob's range: ``low``/``high`` (optionally ``log``), or ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def suggest(self, trial: Any, name: str, kind: type) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        if kind is int:
            return trial.suggest_int(name, int(self.low or 0), int(self.high or 0), log=self.log)
        return trial.suggest_float(name, float(self.low or 0), float(self.high or 0), log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    """What the search varies. Loaded from ``search_spaces/*.yaml`` or built in code."""

    name: str = "default"
    parameterization: str = "auto"
    """``auto`` (by sampler), ``exponential`` or ``logratio``."""
    bounds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per-domain ``min_share``/``max_share``/``fixed_share`` overriding the domains file."""
    max_epochs: float | Mapping[str, float] | None = None
    """Repetition cap for every domain, or per domain; None keeps the domains file's."""
    train: Mapping[str, KnobRange] = field(default_factory=dict)
    """Training knobs searched with the mixture."""
    filters: FilterSpace = field(default_factory=FilterSpace)
    """Thresholds on per-record scores, fixed or searched (:mod:`mixopt.search.proposals.filters`)."""

    def __post_init__(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise ConfigError(
                f"search space {self.name!r}: parameterization must be one of {', '.join(PARAMETERIZATIONS)}"
            )
        for knob, rng in self.train.items():
            if knob not in _KNOBS:
                raise ConfigError(
                    f"search space {self.name!r}: unknown training knob {knob!r}.{did_you_mean(knob, _KNOBS)}"
                )
            ok = (rng.choices is not None and len(rng.choices) > 0) or (
                rng.low is not None
                and rng.high is not None
                and rng.low < rng.high
                and (not rng.log or rng.low > 0)
            )
            if not ok:
                raise ConfigError(
                    f"search space {self.name!r}: {knob} needs choices, or low < high (low > 0 with log)"
                )

    def apply(self, domains: Sequence[TokenizedDomain]) -> tuple[TokenizedDomain, ...]:
        """The domains with this space's bounds and caps in place of the domains file's."""
        specs = self.apply_specs([d.spec for d in domains])
        return tuple(
            d if s is d.spec else dataclasses.replace(d, spec=s)
            for d, s in zip(domains, specs, strict=True)
        )

    def apply_specs(self, specs: Sequence[DomainSpec]) -> tuple[DomainSpec, ...]:
        """The domain specs with this space's bounds and caps; every problem reported at once
        (unknown domains, bounds that contradict each other or that no mixture can meet)."""
        names = [s.name for s in specs]
        where = f"search space {self.name!r}"
        problems = [
            f"{where}: bounds name unknown domain {k!r}.{did_you_mean(k, names)}"
            for k in self.bounds
            if k not in names
        ]
        problems += [f"{where}: {p}" for p in self.filters.problems(names)]
        caps = self.max_epochs if isinstance(self.max_epochs, Mapping) else {}
        problems += [
            f"{where}: max_epochs names unknown domain {k!r}.{did_you_mean(k, names)}"
            for k in caps
            if k not in names
        ]
        out = []
        for spec in specs:
            changes: dict[str, Any] = dict(self.bounds.get(spec.name, {}))
            if isinstance(self.max_epochs, int | float):
                changes["max_epochs"] = float(self.max_epochs)
            elif spec.name in caps:
                changes["max_epochs"] = float(caps[spec.name])
            try:
                out.append(dataclasses.replace(spec, **changes) if changes else spec)
            except ConfigError as exc:
                problems.extend(f"{where}: {p}" for p in exc.problems)
        if not problems:
            problems += [f"{where}: {p}" for p in check_shares(out)]
        if problems:
            raise ConfigError(problems)
        return tuple(out)

    def suggest_train(self, trial: Any) -> dict[str, Any]:
        """Training knobs for one trial (names prefixed ``train_`` in Optuna)."""
        return {
            k: rng.suggest(trial, f"train_{k}", _KNOBS[k]) for k, rng in sorted(self.train.items())
        }

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "filters": self.filters.to_dict()}


class Simplex:
    """Maps sampler parameters to feasible mixtures (and mixtures back, for baselines)."""

    def __init__(
        self, domains: Sequence[TokenizedDomain], budget: int, parameterization: str
    ) -> None:
        if parameterization not in ("exponential", "logratio"):
            raise ValueError(parameterization)
        self.domains, self.budget, self.kind = tuple(domains), budget, parameterization
        self.free = [d.name for d in domains if d.spec.fixed_share is None]
        # log-ratios are relative to one reference domain, which gets no parameter
        self.params = self.free if parameterization == "exponential" else self.free[:-1]

    def suggest(self, trial: Any) -> dict[str, float]:
        """Ask ``trial`` for the parameters; return the feasible mixture they give."""
        if self.kind == "exponential":
            raw = {n: trial.suggest_float(f"w_{n}", 1e-12, 1.0) for n in self.params}
        else:
            raw = {
                n: trial.suggest_float(f"z_{n}", -_LOGRATIO_RANGE, _LOGRATIO_RANGE)
                for n in self.params
            }
        return self.mixture(raw)

    def mixture(self, raw: Mapping[str, float]) -> dict[str, float]:
        """The feasible mixture of raw parameter values (keys: domain names)."""
        if self.kind == "exponential":
            weights = {n: -math.log(max(raw[n], 1e-300)) for n in self.free}
        else:
            weights = {n: math.exp(raw.get(n, 0.0)) for n in self.free}  # the reference is exp(0)
        if self.free and sum(weights.values()) <= 0:
            weights = dict.fromkeys(self.free, 1.0)  # every u was 1: no preference
        return scaled_mixture(
            self.domains, [weights.get(d.name, 0.0) for d in self.domains], self.budget
        )

    def feasible(self, mixture: Mapping[str, float]) -> dict[str, float]:
        """``mixture`` as it is where the domains can give it, else moved into the feasible set
        keeping its shape (a queued baseline on a pool its filters shrank)."""
        from mixopt.data.allocation import allocate
        from mixopt.errors import InfeasibleMixtureError

        try:
            allocate(mixture, self.budget, self.domains)
            return dict(mixture)
        except InfeasibleMixtureError:
            return scaled_mixture(
                self.domains, [float(mixture.get(d.name, 0.0)) for d in self.domains], self.budget
            )

    def params_for(self, mixture: Mapping[str, float]) -> dict[str, float]:
        """Parameter values that propose ``mixture`` (as closely as the space can), so a
        baseline enters the study as if the sampler had proposed it."""
        shares = {n: max(float(mixture.get(n, 0.0)), 0.0) for n in self.free}
        if self.kind == "exponential":
            top = max(shares.values()) or 1.0
            # e_i proportional to the share; u = exp(-e) with max e = 1 keeps u in [1/e, 1]
            return {f"w_{n}": math.exp(-shares[n] / top) for n in self.params}
        ref = max(shares[self.free[-1]], 1e-12)
        clip = _LOGRATIO_RANGE
        z = {n: math.log(max(shares[n], 1e-12) / ref) for n in self.params}
        # a reference share too small to reach (an earlier study's mixture without that
        # domain): shift every log-ratio down alike, which keeps the others' ratios and
        # leaves the reference as small as the range allows
        over = max([0.0, *z.values()]) - clip
        return {f"z_{n}": min(clip, max(-clip, v - max(over, 0.0))) for n, v in z.items()}


def describe_spaces() -> list[tuple[str, str]]:
    """(name, description) of each built-in space: the leading comment of its file."""
    out = []
    for path in sorted(BUILTIN_SPACES.glob("*.yaml")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        out.append((path.stem, " ".join(lines)))
    return out


def load_space(ref: str | Path | None) -> SearchSpace:
    """A search space from a YAML path, a built-in name (``search_spaces/NAME.yaml``), or the default."""

    if ref is None:
        ref = DEFAULT_SPACE
    path = Path(ref)
    if not path.suffix:
        builtin = BUILTIN_SPACES / f"{ref}.yaml"
        if not builtin.exists():
            names = sorted(p.stem for p in BUILTIN_SPACES.glob("*.yaml"))
            raise ConfigError(
                f"Unknown search space {ref!r}.{did_you_mean(str(ref), names)} Built-in: {', '.join(names)}"
            )
        path = builtin
    raw = read_yaml(path, "search space") or {}
    return parse_space(raw, name=path.stem, origin=str(path))


def parse_space(raw: Any, name: str = "space", origin: str = "space") -> SearchSpace:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with 'mixture', 'train' and/or 'filters'")
    _reject_unknown(raw, ("mixture", "train", "filters"), origin)
    mixture = raw.get("mixture") or {}
    _reject_unknown(mixture, ("parameterization", "bounds", "max_epochs"), f"{origin}: mixture")
    bounds = mixture.get("bounds") or {}
    if not isinstance(bounds, Mapping):
        raise ConfigError(f"{origin}: mixture.bounds must map domain names to bounds")
    for domain, b in bounds.items():
        if not isinstance(b, Mapping):
            raise ConfigError(f"{origin}: bounds of {domain!r} must be a mapping")
        _reject_unknown(b, _BOUND_KEYS, f"{origin}: bounds of {domain!r}")
    train = raw.get("train") or {}
    if not isinstance(train, Mapping):
        raise ConfigError(f"{origin}: train must map knob names to ranges")
    knobs = {}
    for knob, spec in train.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{origin}: train.{knob} must be a mapping (low/high/log or choices)")
        _reject_unknown(spec, ("low", "high", "log", "choices"), f"{origin}: train.{knob}")
        choices = spec.get("choices")
        knobs[str(knob)] = KnobRange(
            spec.get("low"),
            spec.get("high"),
            bool(spec.get("log", False)),
            tuple(choices) if choices is not None else None,
        )
    return SearchSpace(
        name,
        str(mixture.get("parameterization", "auto")),
        dict(bounds),
        mixture.get("max_epochs"),
        knobs,
        parse_filters(raw.get("filters"), origin),
    )


def _reject_unknown(mapping: Any, allowed: Sequence[str], where: str) -> None:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}.{did_you_mean(str(key), allowed)}")
