"""A study from start to end: validate, set up storage and tracking, run the trials on Ray
Tune, confirm the winner on fresh seeds, write the results. Resumable from its folder."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, error_line
from mixopt.events import EventLog
from mixopt.io import require_empty_dir, write_json_atomic
from mixopt.search.config import SearchConfig
from mixopt.search.execution import fit, start_ray, trial_resources
from mixopt.search.faults import StudyFailedError
from mixopt.search.progress import Progress
from mixopt.search.results import SearchResult, TrialRecord, summarize
from mixopt.search.space import SearchSpace, Simplex
from mixopt.search.storage import (
    any_worked,
    best_trial,
    enqueue_baselines,
    finished_trials,
    records,
    requeue_interrupted,
)
from mixopt.search.tracking import Tracker, tracking_uri_for
from mixopt.search.trainable import StudyContext

__all__ = ["STUDY_FILE", "Study", "prepare_study", "run_study"]

STUDY_FILE = "study.json"
STUDY_NAME = "mixopt"


@dataclass(frozen=True)
class Study:
    """A validated study, ready to run (nothing has been written yet)."""

    out: Path
    config: SearchConfig
    context: StudyContext
    space: SearchSpace
    baselines: tuple[tuple[str, dict[str, float]], ...]
    record: dict[str, Any]
    """What ``study.json`` holds: enough to resume."""
    resume: bool
    events: EventLog
    """Progress lines and the event log (also written to ``events.jsonl`` in the folder)."""


def prepare_study(model: str, data: Any, evaluator: Any, config: SearchConfig, resume: bool = False,
                  cache_dir: str | None = None, runner: Any = None, events: EventLog | None = None) -> Study:  # fmt: skip
    """Check everything a study needs before any trial runs; every problem is reported at once,
    and nothing is written (no output folder, no cache entry) unless every check passes.

    ``events`` (default: progress lines on stderr) receives ``study_started`` and the
    tokenization events here, and the trials' events when the study runs.
    """
    from mixopt import __version__
    from mixopt.data.allocation import natural_mixture, uniform_mixture
    from mixopt.search.preflight import check_inputs

    out = Path(config.out).resolve()
    events = events if events is not None else EventLog()
    # no line for people: a refused study prints only its problems
    events.emit("study_started", None, out=str(out), resume=resume, model=model, budget=config.budget, trials=config.trials,
                sampler=config.sampler, seed=config.seed)  # fmt: skip
    inputs = _inputs(model, data, evaluator, config, out)
    checked = check_inputs(data, model, evaluator, config.budget, config.space, config.baselines,
                           cache_dir, _out_problems(out, resume, inputs), config.allow_pickle,
                           events)  # fmt: skip
    assert checked.domains is not None and checked.suite is not None and checked.model_ref
    domains = checked.domains
    baselines = [
        ("uniform", uniform_mixture(domains, config.budget)),
        ("natural", natural_mixture(domains, config.budget)),
        *checked.baselines,
    ]
    # the loaded suite travels to the trials: its paths are absolute, and trials run in folders of their own
    context = StudyContext(checked.model_ref, domains, checked.suite, config.budget, config.train,
                           config.allow_pickle, runner, config.trial_timeout)  # fmt: skip
    record = {"mixopt_version": __version__, "tokenizer": model, **inputs,
              "space": checked.space.to_dict()}  # fmt: skip
    return Study(out, config.with_(out=str(out)), context, checked.space, tuple(baselines), record,
                 resume, events)  # fmt: skip


def _inputs(
    model: str, data: Any, evaluator: Any, config: SearchConfig, out: Path
) -> dict[str, Any]:
    """What defines a study, as ``study.json`` records it."""
    return {
        "model": model,
        "domains": str(Path(data).resolve()) if isinstance(data, str | Path) else None,
        "evaluator": str(Path(evaluator).resolve()) if isinstance(evaluator, Path) or (isinstance(evaluator, str) and evaluator.endswith((".yaml", ".yml"))) else evaluator if isinstance(evaluator, str) else repr(evaluator),
        "evaluator_is_reference": isinstance(evaluator, str | Path),
        "config": {**config.to_dict(), "out": str(out)},
    }  # fmt: skip


def _out_problems(out: Path, resume: bool, inputs: dict[str, Any]) -> list[str]:
    """Problems with the output folder: a study to resume that is not there, or a new study
    that would write over another study or over unrelated files."""
    marker = out / STUDY_FILE
    if resume:
        return [] if marker.exists() else [f"{out}: not a mixopt study folder (no {STUDY_FILE}); nothing to resume"]  # fmt: skip
    if marker.is_file():
        try:
            held = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = {}
        differ = [k for k in ("model", "domains", "evaluator", "config") if not isinstance(held, dict) or held.get(k) != json.loads(json.dumps(inputs[k]))]  # fmt: skip
        if differ:
            verb = "differs" if len(differ) == 1 else "differ"
            return [f"{out}: holds a different study (its {', '.join(differ)} {verb}); choose another --out"]  # fmt: skip
        return [f"{out}: already holds this study; resume it with --resume {out}, or choose another --out"]  # fmt: skip
    try:
        require_empty_dir(out)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def run_study(study: Study) -> SearchResult:
    """Run (or resume) the study to its end and write its results."""
    import optuna

    from mixopt.search.samplers import make_sampler, parameterization_for

    out, config = study.out, study.config
    out.mkdir(parents=True, exist_ok=True)
    study.events.add_file(out / "events.jsonl")  # appended to: a resumed study adds its own
    record = dict(study.record)
    previous = json.loads((out / STUDY_FILE).read_text()) if study.resume else {}
    for torn in out.glob(".*.tmp"):  # a write a killed driver left unfinished (never renamed)
        torn.unlink()
    record["parent_run_id"] = previous.get("parent_run_id")
    storage_url = config.storage or f"sqlite:///{out / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Optuna's RDB storage trips a SQLAlchemy deprecation of its own; nothing a user can act on
    warnings.filterwarnings("ignore", message="The ``noload`` loader strategy is deprecated")
    storage = optuna.storages.RDBStorage(
        storage_url,
        engine_kwargs={"connect_args": {"timeout": 60}} if storage_url.startswith("sqlite") else {},
    )
    sampler = make_sampler(config.sampler, config.seed, config.startup_trials)
    ostudy = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,
    )
    if not study.resume:
        if record["domains"] is None:
            # domains given as objects: keep a copy, so the study can resume from its folder
            entries = [d.spec.to_entry() for d in study.context.domains]
            write_json_atomic(out / "domains.json", entries)
            record["domains"] = str(out / "domains.json")
        write_json_atomic(out / STUDY_FILE, record)  # from here on the folder is a resumable study
    kind = parameterization_for(config.sampler, study.space.parameterization)
    # idempotent, so a study killed between writing study.json and this line still gets them
    enqueue_baselines(ostudy, study.baselines, Simplex(study.context.domains, config.budget, kind))
    requeue_interrupted(ostudy)

    tracker = Tracker(tracking_uri_for(out, config.tracking_uri), out / "mlartifacts")
    params = {"model": record["model"], "budget": config.budget, "trials": config.trials, "sampler": config.sampler,
              "seed": config.seed, "space": study.space.name, "evaluator": record["evaluator"],
              "domains": ",".join(d.name for d in study.context.domains), "mixopt_version": record["mixopt_version"],
              **{f"train.{k}": v for k, v in config.train.to_dict().items()}}  # fmt: skip
    record["parent_run_id"] = tracker.start_study(
        f"study-{out.name}", params, {"mixopt.out": str(out)}, record["parent_run_id"]
    )
    write_json_atomic(out / STUDY_FILE, record)
    tracker.reconcile(finished_trials(ostudy))

    started = start_ray(config)  # before anything imports Ray, which reads its settings once
    from mixopt.search.confirm import run_confirmation

    try:
        total = len(study.baselines) + config.trials
        stopped = _search(study, ostudy, tracker, total)
        if stopped is not None:
            _write_results(study.out, records(ostudy))
            tracker.fail_study(stopped)
            raise StudyFailedError(f"{stopped}; fix it and run again with --resume {study.out}")
        best = best_trial(ostudy)
        confirmed = (
            run_confirmation(study, ostudy, tracker, best)
            if best is not None and config.confirm
            else {}
        )
    finally:
        if started:
            import ray

            ray.shutdown()
    return _finish(study, ostudy, tracker, confirmed, storage_url)


def _search(study: Study, ostudy: Any, tracker: Tracker, total: int) -> str | None:
    """Run the searched trials; return why the study stopped early, if it did."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from mixopt.search.samplers import parameterization_for
    from mixopt.search.searcher import MixoptSearcher
    from mixopt.search.trainable import trainable

    config = study.config
    simplex = Simplex(
        study.context.domains,
        config.budget,
        parameterization_for(config.sampler, study.space.parameterization),
    )
    resources, concurrency = trial_resources(config)
    probe = study.context.evaluator.intermediate is not None
    early = config.early_stop == "on" or (config.early_stop == "auto" and config.trials >= 8)
    scheduler = None
    if early and probe:
        # the first cut comes halfway through training: earlier, intermediate scores differ by
        # less than the trial noise and the cut would throw good mixtures away (DESIGN.md, noise)
        checkpoints = config.train.checkpoints
        scheduler = ASHAScheduler(metric="intermediate", mode="max", max_t=checkpoints + 1,
                                  grace_period=max(1, (checkpoints + 1) // 2), reduction_factor=2)  # fmt: skip
    elif early:
        study.events.say(
            "note: early stopping needs an 'intermediate' task in the evaluator; running every trial to the end"
        )
    progress = Progress(total, 0, concurrency, study.events)
    from mixopt.search.faults import fail_limit

    searcher = MixoptSearcher(
        ostudy, study.space, simplex, tracker, total, config.seed, config.budget, progress,
        config.max_retries, None if any_worked(ostudy) else fail_limit(concurrency),
    )  # fmt: skip
    progress.done = searcher.finished_count()
    if progress.done >= total:
        return None
    fit(tune.with_resources(tune.with_parameters(trainable, context=study.context), resources), searcher, scheduler,
         concurrency, study.out, "search")  # fmt: skip
    return searcher.stopped


def _finish(
    study: Study,
    ostudy: Any,
    tracker: Tracker,
    confirmed: Mapping[str, list[float]],
    storage_url: str,
) -> SearchResult:
    from mixopt import __version__

    trials = records(ostudy)
    best_number = best_trial(ostudy)
    if best_number is None:
        failed = [t for t in trials if t.state == "FAIL"]
        reason = f"no trial completed; nothing to report{f' (first failure: {failed[0].error})' if failed else ''}"
        _write_results(study.out, trials)
        tracker.fail_study(reason)
        raise StudyFailedError(reason)
    best, baselines = summarize(trials, confirmed, best_number)
    out = study.out
    uri = tracking_uri_for(out, study.config.tracking_uri)
    command = f"mlflow ui --backend-store-uri {uri}"
    paths = {"best_mixture": str(out / "best_mixture.json"), "results": str(out / "results.json"),
             "study_storage": storage_url, "tracking_uri": uri, "out": str(out)}  # fmt: skip
    result = SearchResult(best, baselines, trials, out, paths, command)
    payload = {
        "best_mixture": best.mixture, "score": best.score, "score_std": best.spread, "search_score": best.search_score,
        "confirmed_scores": list(best.confirmed), "lift": result.lift,
        "baselines": {n: {"mixture": c.mixture, "score": c.score, "score_std": c.spread, "search_score": c.search_score,
                          "confirmed_scores": list(c.confirmed)} for n, c in baselines.items()},
        "best_trial": best_number, "mixopt_version": __version__, "versions": package_versions(), "seed": study.config.seed, "model": study.record["model"],
        "tokenizer": study.record["tokenizer"], "evaluator": study.record["evaluator"], "domains_file": study.record["domains"],
        "config": study.record["config"], "space": study.record["space"], "budget": study.config.budget,
        "domains": {d.name: {"tokens": d.num_tokens, "records": d.num_records, "max_epochs": d.spec.max_epochs} for d in study.context.domains},
    }  # fmt: skip
    write_json_atomic(out / "best_mixture.json", payload)
    _write_results(out, trials)
    scores = {"score": best.score, **{f"lift over {n}": v for n, v in result.lift.items()}}
    tracker.tag_best(best_number, best.mixture, scores)
    metrics = {
        "best_score": best.score or 0.0,
        **{f"lift_over_{n}": v for n, v in result.lift.items()},
    }
    report = _write_report(out)  # after the results: a report that fails loses nothing
    if report is not None:
        paths["report"] = str(report / "index.html")
    artifacts = [out / "best_mixture.json", out / "results.json", *([report] if report else [])]
    tracker.finish_study(metrics, artifacts)
    study.events.emit("study_finished", None, out=str(out), counts=result.counts(), lift=result.lift,
                      best={"trial": best_number, "mixture": best.mixture, "score": best.score,
                            "search_score": best.search_score})  # fmt: skip
    return result


def _write_results(out: Path, trials: Sequence[TrialRecord]) -> None:
    counts = SearchResult.count(trials)
    write_json_atomic(
        out / "results.json", {"counts": counts, "trials": [t.__dict__ for t in trials]}
    )


def _write_report(out: Path) -> Path | None:
    """The study's HTML report (``out/report/``), or None with a warning line if it failed."""
    try:
        from mixopt.report import REPORT_DIR, write_report

        write_report(out)
        return out / REPORT_DIR
    except Exception as exc:
        # a warning, not progress: shown even with --quiet
        print(f"warning: the report was not written ({error_line(exc)}); retry with: "
              f"mixopt report {out}", file=sys.stderr, flush=True)  # fmt: skip
        return None


def package_versions() -> dict[str, str]:
    """Versions of the libraries that shape a trial's result, for reproducing it."""
    from importlib import metadata

    out = {}
    for name in (
        "torch",
        "transformers",
        "peft",
        "optuna",
        "ray",
        "mlflow",
        "datasets",
        "tokenizers",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
