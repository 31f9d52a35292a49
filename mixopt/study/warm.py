"""Warm start: a new study seeded with the completed trials of earlier ones (``--warm-start``).

An earlier study's completed trial is *reused* (added to the new Optuna study as a completed
trial, not re-trained, not counted in ``--trials``) when it is exactly what this study would
train for that mixture: the same model, budget, evaluator and recipe, the same data for every
domain it drew from, a mixture inside this study's bounds and caps, and training knobs this
study would use. Domains map by name: a domain new here enters the old mixtures at share 0
(the old trial drew none of it, so its training set is the same); an old domain this study
lacks keeps the trials that drew no token of it and drops the others (renormalized, they
would be mixtures no one trained).

Trials of a study trained under other settings are refused, one line per study, unless
``--warm-start-any``: then they (and any trial not reusable as it is) are a *prior* only:
their mixtures, mapped onto these domains and made feasible, are the first proposals (each
study's best first, at most half of ``--trials``), re-trained here as this study's trials.

Which trial is the best: a reused trial may be it. It was trained under settings identical to
this study's, so its score is as much evidence as a trial run here, and a study that ignored
it would hand back a worse mixture than one it holds. What is reported is still this study's
own measurement: the baselines are always run here, and the confirmation runs re-run the
best (reused or not) and the baselines on this study's fresh seeds.

Resuming a warm-started study imports nothing twice: every trial taken from an earlier study
carries its origin (:attr:`~mixopt.study.trials.Attr.WARM_FROM`), and one already held, in
any state, is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mixopt.errors import ConfigError, MixoptError
from mixopt.study.spec import StudySpec, option_of
from mixopt.study.store import StudyStore
from mixopt.study.trials import PRIOR, REUSED, SEARCH, Attr, TrialRecord, proposal_attrs

__all__ = ["FREE_SETTINGS", "Taken", "WarmStart", "apply_warm_start", "plan_warm_start"]

FREE_SETTINGS = frozenset(
    {
        "domains",  # mapped domain by domain (the data of each is compared separately)
        "space",  # bounds, caps and searched knobs: checked trial by trial
        # another seed draws another sample of the same noisy score; the confirmation runs use fresh seeds anyway
        "seed",
        "trials",
        "sampler",
        "startup_trials",
        "confirm",
        "early_stop",
        "baselines",  # how the search goes on
        "out",
        "storage",
        "allow_pickle",
        "warm_start",
        "warm_start_any",
    }
)
"""Settings (flat names) in which an earlier study may differ from this one and its trials
still be reused: none of them changes what a trial of a given mixture trains and scores.
Every other setting that defines a study (model, budget, evaluator, the training recipe,
and any setting added later) refuses the reuse unless ``--warm-start-any``."""

_DATA_TOLERANCE = 0.01  # a domain whose token count moved by more than 1% holds other data


@dataclass(frozen=True)
class Taken:
    """One earlier trial as this study takes it: reused as it is, or a prior to re-train."""

    mixture: dict[str, float]
    """The mixture on this study's domains."""
    train: dict[str, Any]
    """Training knobs (those this study's space searches)."""
    origin: dict[str, Any]
    """What :attr:`Attr.WARM_FROM` holds: ``study``, ``trial``, ``role``, ``how``."""
    score: float
    """The earlier study's score (for ordering priors; the value of a reused trial)."""
    result: dict[str, Any]
    intermediate: tuple[tuple[int, float], ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (str(self.origin["study"]), int(self.origin["trial"]))


@dataclass(frozen=True)
class WarmStart:
    """What the earlier studies give a new study; built before anything is written."""

    reused: tuple[Taken, ...] = ()
    priors: tuple[Taken, ...] = ()
    notes: tuple[str, ...] = ()
    """One line per earlier study: what it gave, and what was dropped and why."""


def plan_warm_start(
    spec: StudySpec, domains: Sequence[Any], space: Any, resume: bool = False
) -> WarmStart:
    """Read each ``--warm-start`` study and decide what of it this study takes. ``domains``:
    this study's tokenized domains (bounds and caps applied); ``space``: its search space.
    A study that cannot be used is a one-line :class:`ConfigError` per study (on resume, a
    note: what it gave is already held)."""
    problems: list[str] = []
    reused: dict[tuple[str, int], Taken] = {}
    priors: list[list[Taken]] = []
    notes: list[str] = []
    for folder in spec.search.warm_start:
        try:
            found = _from_study(folder, spec, domains, space)
        except MixoptError as exc:
            (notes if resume else problems).extend(
                f"--warm-start {folder}: {p}" for p in exc.problems
            )
            continue
        for t in found.reused:
            reused.setdefault(t.key, t)
        priors.append(list(found.priors))
        notes.extend(found.notes)
    if problems:
        raise ConfigError(problems)
    limit = math.ceil(spec.search.trials / 2)  # the sampler proposes at least the other half
    first = [t for t in _round_robin(priors) if t.key not in reused][:limit]
    return WarmStart(tuple(reused.values()), tuple(first), tuple(notes))


def _round_robin(lists: Sequence[Sequence[Taken]]) -> Iterator[Taken]:
    """Each study's best, then each study's second best...: scores of studies trained under
    other settings are not comparable to each other."""
    for k in range(max((len(x) for x in lists), default=0)):
        yield from (x[k] for x in lists if k < len(x))


def _from_study(folder: str, spec: StudySpec, domains: Sequence[Any], space: Any) -> WarmStart:
    store = StudyStore(folder)
    if store.folder == StudyStore(spec.output.out).folder:
        raise ConfigError("is this study's own folder; name an earlier study")
    held = store.read_spec()
    store = StudyStore(folder, held.output.storage)
    done = [
        t
        for t in store.trials()
        if t.state == "COMPLETE" and t.score is not None and math.isfinite(t.score)
    ]
    names = [d.name for d in domains]
    differs = [
        line for line in spec.differences(held) if line.split(":", 1)[0] not in FREE_SETTINGS
    ]
    differs += [
        f"data of {n!r} ({a:,} -> {b:,} tokens)" for n, a, b in _changed_data(done, domains)
    ]
    if differs and not spec.search.warm_start_any:
        raise ConfigError(
            f"trained under other settings ({'; '.join(differs)}); its scores are no evidence "
            f"here: pass {option_of('warm_start_any')} to re-train its mixtures as first proposals"
        )
    old = sorted({n for t in done for n in t.mixture})
    dropped, added = [n for n in old if n not in names], [n for n in names if n not in old]
    reused, priors, lost = [], [], {"dropped": 0, "outside": 0}
    for t in sorted(done, key=lambda t: (-(t.score or 0.0), t.number)):
        origin = (
            dict(t.origin)
            if t.reused and t.origin
            else {"study": str(store.folder), "trial": t.number, "role": t.role}
        )
        taken = None if differs else _reusable(t, dropped, held, spec, domains, space)
        if taken is not None:
            reused.append(
                Taken(
                    taken[0],
                    taken[1],
                    {**origin, "how": REUSED},
                    float(t.score or 0.0),
                    t.result,
                    t.intermediate,
                )
            )
            continue
        lost["dropped" if any(_drew(t, n) for n in dropped) else "outside"] += 1
        prior = _prior(t, names, domains, spec) if spec.search.warm_start_any else None
        if prior is not None:
            priors.append(
                Taken(prior[0], prior[1], {**origin, "how": PRIOR}, float(t.score or 0.0), {})
            )
    return WarmStart(
        tuple(reused),
        tuple(priors),
        (
            _note(
                store.folder,
                len(done),
                len(reused),
                len(priors),
                differs,
                lost,
                dropped,
                added,
                spec,
            ),
        ),
    )


def _reusable(
    t: TrialRecord,
    dropped: Sequence[str],
    held: StudySpec,
    spec: StudySpec,
    domains: Sequence[Any],
    space: Any,
) -> tuple[dict[str, float], dict[str, Any]] | None:
    """(mixture, knobs) under which this study would train exactly what ``t`` trained, or None."""
    from mixopt.data.allocation import allocate

    if any(_drew(t, n) for n in dropped):
        return None
    # filters are not mapped between studies yet: a trial trained on a filtered pool, or a study
    # that filters, takes nothing as it is (with --warm-start-any, the mixture is a prior)
    if t.filters or space.filters:
        return None
    names = [d.name for d in domains]
    kept = {n: float(t.mixture.get(n, 0.0)) for n in names}
    total = math.fsum(kept.values())
    if total <= 0:
        return None
    mixture = {n: v / total for n, v in kept.items()}  # only the float dust of zero shares moves
    try:
        # inside this study's bounds and caps
        allocate(mixture, int(spec.search.budget or 0), domains)
    except MixoptError:
        return None
    knobs = _knobs(t.train, held, spec, space)
    return None if knobs is None else (mixture, knobs)


def _knobs(
    train: Mapping[str, Any], held: StudySpec, spec: StudySpec, space: Any
) -> dict[str, Any] | None:
    """The trial's training knobs as this study's space takes them, or None when it trained
    with a value this study would not use (a knob fixed here at another value, or out of range)."""
    out: dict[str, Any] = {}
    for knob in sorted({*train, *space.train}):
        value = train.get(knob, getattr(held.train, knob))
        rng = space.train.get(knob)
        if rng is None:
            if value != getattr(spec.train, knob):
                return None
        elif rng.choices is not None:
            if value not in rng.choices:
                return None
            out[knob] = value
        elif not float(rng.low) <= float(value) <= float(rng.high):
            return None
        else:
            out[knob] = value
    return out


def _prior(
    t: TrialRecord, names: Sequence[str], domains: Sequence[Any], spec: StudySpec
) -> tuple[dict[str, float], dict[str, Any]] | None:
    """The trial's mixture on these domains, made feasible here (it is re-trained: any
    mixture near it is as good a first proposal); None when it gave these domains nothing."""
    from mixopt.data.allocation import scaled_mixture

    weights = [max(float(t.mixture.get(n, 0.0)), 0.0) for n in names]
    if math.fsum(weights) <= 0:
        return None
    mixture = scaled_mixture(domains, weights, spec.search.budget)
    return mixture, {}


def _drew(t: TrialRecord, name: str) -> bool:
    """Whether ``t`` trained on any token of ``name`` (its share, where no count was kept)."""
    tokens = (t.result.get("domains") or {}).get(name, {}).get("tokens")
    return bool(tokens) if tokens is not None else t.mixture.get(name, 0.0) > 0


def _changed_data(
    trials: Sequence[TrialRecord], domains: Sequence[Any]
) -> list[tuple[str, int, int]]:
    """(name, tokens then, tokens now) of each domain whose data changed: a trial records the
    tokens it drew and the epochs they made, so tokens / epochs is the domain's size then."""
    now = {d.name: int(d.num_tokens) for d in domains}
    out = []
    for name in now:
        sizes = [
            round(d["tokens"] / d["epochs"])
            for t in trials
            if (d := (t.result.get("domains") or {}).get(name))
            and d.get("tokens")
            and d.get("epochs")
        ]
        if sizes and abs(sizes[0] - now[name]) > _DATA_TOLERANCE * now[name]:
            out.append((name, sizes[0], now[name]))
    return out


def _note(
    folder: Any,
    done: int,
    reused: int,
    priors: int,
    differs: Sequence[str],
    lost: Mapping[str, int],
    dropped: Sequence[str],
    added: Sequence[str],
    spec: StudySpec,
) -> str:
    """One line: what an earlier study gave this one, and what was left out and why."""
    parts = [f"warm start from {folder}: reused {reused} of its {done} completed trials"]
    if differs:
        parts[0] += f" (trained under other settings: {'; '.join(differs)})"
    if added:
        parts.append(f"{', '.join(map(repr, added))} (new here) at share 0")
    if lost["dropped"]:
        parts.append(
            f"left out {lost['dropped']} that trained on {', '.join(map(repr, dropped))} (not in this study)"
        )
    if lost["outside"] and not differs:
        parts.append(
            f"left out {lost['outside']} outside this study's bounds, caps, training knobs or filters"
        )
    if priors:
        parts.append(
            f"{priors} of its mixtures offered as first proposals (re-trained, at most {math.ceil(spec.search.trials / 2)} in all)"
        )
    elif (lost["dropped"] or lost["outside"]) and not spec.search.warm_start_any:
        parts.append(f"{option_of('warm_start_any')} re-trains those as first proposals")
    return "; ".join(parts)


def apply_warm_start(warm: WarmStart, study: Any, simplex: Any, space: Any) -> list[str]:
    """Add the reused trials to the Optuna ``study`` as completed trials and queue the priors
    (after the baselines), skipping what it already holds; return the notes when anything
    was added (a resumed study adds nothing and says nothing)."""
    import optuna

    held = {_key(t.user_attrs.get(Attr.WARM_FROM)) for t in study.get_trials(deepcopy=False)}
    added = 0
    for t in warm.reused:
        if t.key in held:
            continue
        params, distributions = _params(simplex, space, t)
        attrs = {
            **proposal_attrs(SEARCH, t.mixture, t.train),
            Attr.RESULT: t.result,
            Attr.WARM_FROM: t.origin,
        }
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                value=t.score,
                intermediate_values=dict(t.intermediate),
                user_attrs=attrs,
            )
        )
        added += 1
    for t in warm.priors:
        if t.key in held:
            continue
        params, _ = _params(simplex, space, t)
        study.enqueue_trial(params, user_attrs={Attr.MIXTURE: t.mixture, Attr.WARM_FROM: t.origin})
        added += 1
    return list(warm.notes) if added else []


def _params(simplex: Any, space: Any, t: Taken) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sampler's parameters for the trial's mixture and knobs, with their distributions
    (asked of a fixed trial, so they are the ones this study's space defines)."""
    import optuna

    fixed = optuna.trial.FixedTrial(
        {**simplex.params_for(t.mixture), **{f"train_{k}": v for k, v in t.train.items()}}
    )
    simplex.suggest(fixed)
    if all(k in t.train for k in space.train):
        space.suggest_train(fixed)
    return fixed.params, fixed.distributions


def _key(origin: Any) -> tuple[str, int] | None:
    return (str(origin["study"]), int(origin["trial"])) if isinstance(origin, Mapping) else None
