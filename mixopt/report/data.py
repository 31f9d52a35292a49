"""What a report shows, read from a study folder: finished, interrupted, or still running.

Optuna's storage is the source of truth for the trials; ``confirm.jsonl`` holds the
confirmation runs (the best mixture and the baselines re-run on fresh seeds). Nothing here
needs Ray, MLflow or the study's inputs, so a report can be made from the folder alone.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, first_line
from mixopt.io import read_json
from mixopt.search.results import Candidate, TrialRecord

__all__ = ["Cost", "Lift", "ReportData", "gather"]

STUDY_FILE = "study.json"  # mirrors mixopt.search.study.STUDY_FILE without importing Ray
STUDY_NAME = "mixopt"
# a random forest fitted on fewer completed trials ranks noise, not parameters
MIN_IMPORTANCE_TRIALS = 5


@dataclass(frozen=True)
class Lift:
    """The best mixture's score minus a baseline's, with the spread over paired seeds."""

    value: float
    spread: float | None
    """Standard deviation of the per-seed differences (None with fewer than two seeds both ran)."""
    seeds: int


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
    record: dict[str, Any]
    """``study.json``: model, evaluator, config."""
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

    def top_trials(self, k: int) -> list[TrialRecord]:
        """The ``k`` best completed trials, best first."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.score is not None]
        return sorted(done, key=lambda t: (-(t.score or 0.0), t.number))[:k]

    def metric_rows(self, k: int) -> list[TrialRecord]:
        """The top ``k`` trials, then the baselines that are not among them (for comparison)."""
        rows = self.top_trials(k)
        numbers = {t.number for t in rows}
        for t in self.trials:
            if t.role.startswith("baseline:") and t.number not in numbers and t.metrics:
                rows.append(t)
        return rows

    def label(self, t: TrialRecord) -> str:
        """``trial 7 (best)``, ``trial 0 (uniform)``, ``trial 3``."""
        role = t.role.split(":", 1)[1] if t.role.startswith("baseline:") else None
        tag = f" ({role})" if role else " (best)" if t.number == self.best_number else ""
        return f"trial {t.number}{tag}"


def gather(folder: str | Path) -> ReportData:
    """Read a study folder; a folder that holds no study is a one-line :class:`ConfigError`."""
    folder = Path(folder).resolve()
    if not (folder / STUDY_FILE).is_file():
        raise ConfigError(f"{folder}: not a mixopt study folder (no {STUDY_FILE})")
    record = read_json(folder / STUDY_FILE, "study record")
    if not isinstance(record, dict):
        raise ConfigError(f"{folder / STUDY_FILE}: not a study record")
    ostudy = _load_study(folder, record)
    from mixopt.search.storage import best_trial, records

    trials = records(ostudy)
    timing = _timing(ostudy)
    best_number = best_trial(ostudy)
    confirmed = _confirmations(folder / "confirm.jsonl")
    baseline_numbers = {
        t.role.split(":", 1)[1]: t.number for t in trials if t.role.startswith("baseline:")
    }
    baselines = {
        name: _candidate(name, trials, number, confirmed)
        for name, number in baseline_numbers.items()
    }
    best = _candidate("best", trials, best_number, confirmed) if best_number is not None else None
    lift = {
        name: _lift(best, c, confirmed.get(-1 if best_number is None else best_number, {}), confirmed.get(baseline_numbers[name], {}))
        for name, c in baselines.items()
    }  # fmt: skip
    importances, note = _importances(ostudy, trials)
    domains = _domains(trials)
    notes = []
    finished = (folder / "best_mixture.json").is_file()
    if not finished:
        notes.append(
            "The study has not finished (no best_mixture.json): this report shows what it holds so far."
        )
    return ReportData(
        folder, record, domains, trials, best_number, best, baselines, baseline_numbers,
        {n: v for n, v in lift.items() if v is not None}, importances, note,
        _cost(trials, timing, record, sum(len(v) for v in confirmed.values())), finished, tuple(notes),
    )  # fmt: skip


def _load_study(folder: Path, record: Mapping[str, Any]) -> Any:
    import optuna

    url = (record.get("config") or {}).get("storage")
    if not url:
        db = folder / "study.db"
        if not db.is_file():  # opening a missing SQLite file would create an empty one
            raise ConfigError(f"{folder}: the study's storage {db} is missing")
        url = f"sqlite:///{db}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="The ``noload`` loader strategy is deprecated")
    try:
        return optuna.load_study(study_name=STUDY_NAME, storage=url)
    except Exception as exc:  # a missing study, an unreachable database
        raise ConfigError(f"{folder}: cannot open the study in {url} ({first_line(exc)})") from None


def _timing(ostudy: Any) -> dict[int, tuple[float | None, dict[str, float], Any, Any]]:
    """number -> (seconds, resources, start, end) of each trial that is not a requeued leftover."""
    out = {}
    for t in ostudy.get_trials(deepcopy=False):
        if t.user_attrs.get("interrupted"):
            continue
        start, end = t.datetime_start, t.datetime_complete
        seconds = (end - start).total_seconds() if start and end else None
        resources = dict((t.user_attrs.get("result") or {}).get("resources") or {})
        out[t.number] = (seconds, resources, start, end)
    return out


def _confirmations(path: Path) -> dict[int, dict[int, float]]:
    """source trial -> {seed: score} from ``confirm.jsonl`` (a torn last line is skipped)."""
    from mixopt.search.storage import read_confirmations

    out: dict[int, dict[int, float]] = {}
    for (_name, seed, source), score in read_confirmations(path).items():
        out.setdefault(source, {})[seed] = score
    return out


def _candidate(
    name: str,
    trials: Sequence[TrialRecord],
    number: int | None,
    confirmed: Mapping[int, Mapping[int, float]],
) -> Candidate:
    trial = next(t for t in trials if t.number == number)
    seeds = confirmed.get(trial.number, {})
    search = trial.score if trial.state == "COMPLETE" else None
    return Candidate(name, trial.mixture, search, tuple(seeds[s] for s in sorted(seeds)))


def _lift(
    best: Candidate | None,
    base: Candidate,
    best_seeds: Mapping[int, float],
    base_seeds: Mapping[int, float],
) -> Lift | None:
    if best is None or best.score is None or base.score is None:
        return None
    # both ran on the same fresh seeds: the per-seed differences share the data sample
    paired = [best_seeds[s] - base_seeds[s] for s in sorted(set(best_seeds) & set(base_seeds))]
    spread = statistics.stdev(paired) if len(paired) > 1 else None
    return Lift(best.score - base.score, spread, len(paired))


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
        return {}, (f"Parameter importances need at least {MIN_IMPORTANCE_TRIALS} completed trials; "
                    f"this study has {len(done)}.")  # fmt: skip
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
    memory.add_trials([
        optuna.trial.create_trial(params={k: v[k] for k in varied}, distributions={k: s[k] for k in varied}, value=score)
        for v, s, score in rows
    ])  # fmt: skip
    try:
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances

        found = get_param_importances(memory, evaluator=FanovaImportanceEvaluator(seed=0))
    except Exception as exc:  # e.g. scikit-learn missing; the rest of the report stands
        return {}, f"Parameter importances could not be computed: {first_line(exc)}"
    return {k: float(v) for k, v in found.items()}, None


def _cost(
    trials: Sequence[TrialRecord],
    timing: Mapping[int, tuple[float | None, dict[str, float], Any, Any]],
    record: Mapping[str, Any],
    confirm_runs: int,
) -> Cost:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.lower()] = counts.get(t.state.lower(), 0) + 1
    counts["confirm"] = confirm_runs
    # every trial of a study holds the same resources; a completed one recorded them
    recorded = next((r for s, r, _, _ in timing.values() if r), None)
    config = record.get("config") or {}
    resources = recorded or {"CPU": float(config.get("cpus_per_trial", 1))}
    seconds = {t.number: timing[t.number][0] for t in trials if t.number in timing}
    total = sum(s for s in seconds.values() if s is not None)
    complete = [
        seconds[t.number] for t in trials if t.state == "COMPLETE" and seconds.get(t.number)
    ]
    confirm_s = confirm_runs * (
        statistics.fmean(c for c in complete if c is not None) if complete else 0.0
    )
    starts = [s for _, _, s, _ in timing.values() if s is not None]
    ends = [e for _, _, _, e in timing.values() if e is not None]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    hours = (total + confirm_s) / 3600
    return Cost(counts, total / 3600, hours * resources.get("CPU", 0.0), hours * resources.get("GPU", 0.0),
                confirm_s / 3600, dict(resources), wall / 3600)  # fmt: skip
