"""What a report shows, read from a study folder: finished, interrupted, or still running.

Optuna's storage is the source of truth for the trials; ``confirm.jsonl`` holds the
confirmation runs (the best mixture and the baselines re-run on fresh seeds). Nothing here
needs Ray, MLflow or the study's inputs, so a report can be made from the folder alone.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixopt.errors import first_line
from mixopt.study.answer import Transfer, decide, headline, transfers
from mixopt.study.spec import StudySpec
from mixopt.study.store import StudyStore
from mixopt.study.summary import Candidate, Lift, runs_at
from mixopt.study.trials import TrialRecord

__all__ = ["Cost", "ReportData", "gather"]

# a random forest fitted on fewer completed trials ranks noise, not parameters
MIN_IMPORTANCE_TRIALS = 5


@dataclass(frozen=True)
class Cost:
    """What the study spent."""

    counts: dict[str, int]
    """Trials by state (complete, pruned, fail, running, waiting), and ``confirm`` runs."""
    trial_hours: float
    """Wall-clock hours of the search trials (each from its start to its end)."""
    cpu_hours: float
    gpu_hours: float
    confirm_hours: float
    """Estimated: confirmation runs times the mean duration of a completed trial."""
    resources: dict[str, float]
    """What one trial held (``CPU``, ``GPU``)."""
    wall_hours: float
    """From the first trial's start to the last trial's end."""


@dataclass(frozen=True)
class ReportData:
    """Everything the plots and the page draw on."""

    folder: Path
    spec: StudySpec
    """The study's settings (``study.json``)."""
    domains: tuple[str, ...]
    trials: tuple[TrialRecord, ...]
    best_number: int | None
    best: Candidate | None
    baselines: dict[str, Candidate]
    baseline_numbers: dict[str, int]
    lift: dict[str, Lift]
    importances: dict[str, float]
    importance_note: str | None
    """Why there are no importances (too few completed trials), else None."""
    cost: Cost
    finished: bool
    """True when the study wrote its results (``best_mixture.json``)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    warm: tuple[str, ...] = field(default_factory=tuple)
    """Where the trials taken from earlier studies (``--warm-start``) came from, a line per
    study, then what the study said when it took them (what it left out and why)."""
    transfers: dict[int, Transfer] = field(default_factory=dict)
    """The transfer checks (``mixopt transfer OUT --budget B``), by budget."""
    objective_lift: dict[str, dict[str, Lift]] = field(default_factory=dict)
    """With several objectives: per baseline, the best's lift on each objective."""
    headline: str = ""
    """The sentence a user acts on (:func:`mixopt.study.answer.headline`)."""
    decided: bool = True
    """False while the race on fresh seeds has runs to make: the answer may still change."""

    def top_trials(self, k: int) -> list[TrialRecord]:
        """The ``k`` best completed trials, best first."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.score is not None]
        return sorted(done, key=lambda t: (-(t.score or 0.0), t.number))[:k]

    def metric_rows(self, k: int) -> list[TrialRecord]:
        """The top ``k`` trials, then the baselines that are not among them (for comparison)."""
        rows = self.top_trials(k)
        numbers = {t.number for t in rows}
        for t in self.trials:
            if t.baseline is not None and t.number not in numbers and t.metrics:
                rows.append(t)
        return rows

    def label(self, t: TrialRecord) -> str:
        """``trial 7 (best)``, ``trial 0 (uniform)``, ``trial 3``, ``trial 2 (reused: old trial 5)``."""
        tags = [t.baseline] if t.baseline else ["best"] if t.number == self.best_number else []
        if t.origin is not None:  # an earlier study's trial (--warm-start)
            tags.append(
                f"{t.origin.get('how')}: {Path(str(t.origin.get('study'))).name} trial {t.origin.get('trial')}"
            )
        shown = ", ".join(tags)
        return f"trial {t.number} ({shown})" if tags else f"trial {t.number}"


def gather(folder: str | Path, storage: str | None = None) -> ReportData:
    """Read a study folder; a folder that holds no study is a one-line :class:`ConfigError`.
    ``storage``: the study's storage URL with its password (``study.json`` holds none)."""
    spec = StudyStore(folder).read_spec()
    store = StudyStore(folder, storage or spec.output.storage)
    trials, confirmations = store.trials(), store.confirmations()
    # the race's budget: --confirm-budget, else the search's
    own, search = spec.search.confirm_budget or spec.search.budget, spec.search
    decision = decide(
        trials,
        runs_at(confirmations, own) if own else confirmations,
        search.confirm,
        search.seed + 1,
        search.pick,
    )
    summary = decision.summary
    estimate = spec.scoring.estimate()  # what every lift is, where not the user's target
    importances, note = _importances(store.optuna(), trials)
    finished = store.path(store.BEST).is_file()
    notes = (
        []
        if finished
        else [
            "The study has not finished (no best_mixture.json): this report shows what it holds so far."
        ]
    )
    return ReportData(
        store.folder,
        spec,
        _domains(trials),
        trials,
        summary.best_number,
        summary.best,
        summary.baselines,
        summary.baseline_numbers,
        summary.lift,
        importances,
        note,
        _cost(trials, spec.execution.cpus_per_trial, len(confirmations)),
        finished,
        tuple(notes),
        _warm(store, trials),
        transfers(trials, confirmations, own, decision, estimate) if own else {},
        summary.objective_lift,
        headline(summary, estimate),
        decision.over,
    )


def _warm(store: StudyStore, trials: Sequence[TrialRecord]) -> tuple[str, ...]:
    """A line per earlier study the trials came from, then the notes the study logged."""
    import json

    taken: dict[str, dict[str, list[int]]] = {}
    for t in trials:
        if t.origin is not None:
            taken.setdefault(str(t.origin.get("study")), {}).setdefault(
                str(t.origin.get("how")), []
            ).append(t.number)
    lines = [
        f"{study}: "
        + "; ".join(
            f"{len(n)} {how} (here: trials {', '.join(map(str, n))})"
            for how, n in sorted(hows.items())
        )
        for study, hows in taken.items()
    ]
    path = store.path(store.EVENTS)
    if taken and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:  # a torn last line
                continue
            if event.get("event") == "warm_start":
                lines.append(str(event.get("text")))
    return tuple(lines)


def _domains(trials: Sequence[TrialRecord]) -> tuple[str, ...]:
    names: list[str] = []
    for t in trials:
        names += [n for n in t.mixture if n not in names]
    return tuple(names)


def _importances(ostudy: Any, trials: Sequence[TrialRecord]) -> tuple[dict[str, float], str | None]:
    """Optuna's fANOVA importances of the domain shares and training knobs for the score.

    The sampler's own parameters (exponentials, log-ratios) mean little to a reader, so the
    importances are computed over the shares each trial trained on, in a study in memory.
    """
    import optuna
    from optuna.distributions import FloatDistribution

    params = {t.number: t.params for t in ostudy.get_trials(deepcopy=False)}
    dists = {t.number: t.distributions for t in ostudy.get_trials(deepcopy=False)}
    done = [
        t
        for t in trials
        if t.state == "COMPLETE" and t.score is not None and math.isfinite(t.score)
    ]
    if len(done) < MIN_IMPORTANCE_TRIALS:
        return {}, (
            f"Parameter importances need at least {MIN_IMPORTANCE_TRIALS} completed trials; "
            f"this study has {len(done)}."
        )
    rows = []
    for t in done:
        values: dict[str, Any] = {f"share.{n}": v for n, v in t.mixture.items()}
        spaces: dict[str, Any] = dict.fromkeys(values, FloatDistribution(0.0, 1.0))
        for name, value in params.get(t.number, {}).items():
            if name.startswith("train_"):
                values[name] = value
                spaces[name] = dists[t.number][name]
        rows.append((values, spaces, t.score))
    # a parameter that never varied (a fixed share) has no importance to measure
    varied = {
        k
        for k in rows[0][0]
        if len({str(r[0].get(k)) for r in rows}) > 1 and all(k in r[0] for r in rows)
    }
    if not varied:
        return {}, "Parameter importances: no parameter varied between the completed trials."
    memory = optuna.create_study(direction="maximize")
    memory.add_trials(
        [
            optuna.trial.create_trial(
                params={k: v[k] for k in varied},
                distributions={k: s[k] for k in varied},
                value=score,
            )
            for v, s, score in rows
        ]
    )
    try:
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances

        found = get_param_importances(memory, evaluator=FanovaImportanceEvaluator(seed=0))
    except Exception as exc:  # e.g. scikit-learn missing; the rest of the report stands
        return {}, f"Parameter importances could not be computed: {first_line(exc)}"
    return {k: float(v) for k, v in found.items()}, None


def _cost(trials: Sequence[TrialRecord], cpus_per_trial: int, confirm_runs: int) -> Cost:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.lower()] = counts.get(t.state.lower(), 0) + 1
    counts["confirm"] = confirm_runs
    # every trial of a study holds the same resources; a completed one recorded them
    recorded = next((t.result["resources"] for t in trials if t.result.get("resources")), None)
    resources = dict(recorded or {"CPU": float(cpus_per_trial)})
    seconds = {t.number: t.seconds for t in trials}
    total = sum(s for s in seconds.values() if s is not None)
    complete = [s for t in trials if t.state == "COMPLETE" and (s := seconds[t.number])]
    confirm_s = confirm_runs * (statistics.fmean(complete) if complete else 0.0)
    starts = [t.started for t in trials if t.started is not None]
    ends = [t.ended for t in trials if t.ended is not None]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    hours = (total + confirm_s) / 3600
    return Cost(
        counts,
        total / 3600,
        hours * resources.get("CPU", 0.0),
        hours * resources.get("GPU", 0.0),
        confirm_s / 3600,
        resources,
        wall / 3600,
    )
