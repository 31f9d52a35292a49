"""A study from start to end: validate, set up storage and tracking, run the trials on Ray
Tune, confirm the winner on fresh seeds, write the results. Resumable from its folder."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError
from mixopt.io import require_empty_dir, write_json_atomic
from mixopt.search.config import SearchConfig
from mixopt.search.execution import fit, start_ray, trial_resources
from mixopt.search.progress import Progress
from mixopt.search.results import SearchResult, summarize
from mixopt.search.space import SearchSpace, Simplex, load_space
from mixopt.search.storage import (
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


def prepare_study(model: str, data: Any, evaluator: Any, config: SearchConfig, resume: bool = False,
                  cache_dir: str | None = None, runner: Any = None) -> Study:  # fmt: skip
    """Check everything a study needs before any trial runs; every problem is reported at once."""
    from mixopt.data.allocation import (
        check_budget,
        natural_mixture,
        normalize_mixture,
        uniform_mixture,
    )
    from mixopt.data.spec import DomainSpec, load_domains, parse_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.errors import MixoptError
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.models import load_tokenizer, resolve_reference

    out = Path(config.out).resolve()
    _check_out(out, resume)
    problems: list[str] = []

    def attempt(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except MixoptError as exc:
            problems.extend(exc.problems)
            return None

    if isinstance(data, str | Path):
        specs = attempt(load_domains, data)
    elif isinstance(data, Sequence) and data and all(isinstance(d, DomainSpec) for d in data):
        specs = tuple(data)
    else:
        specs = attempt(parse_domains, data)
    space = attempt(load_space, config.space)
    suite = attempt(make_evaluator, evaluator)
    if suite is not None:
        problems.extend(suite.check())
    model_ref = attempt(resolve_reference, model)
    tokenizer = attempt(load_tokenizer, model) if model_ref else None
    if problems:
        raise ConfigError(problems)
    domains = space.apply(tokenize_domains(specs, tokenizer, cache_dir))
    check_budget(domains, config.budget)
    baselines = [
        ("uniform", uniform_mixture(domains, config.budget)),
        ("natural", natural_mixture(domains, config.budget)),
    ]
    for name, mix in config.baselines:
        if name in ("uniform", "natural", "best"):
            raise ConfigError(f"baseline name {name!r} is taken; name it otherwise")
        baselines.append((name, normalize_mixture(mix, domains)))
    # the loaded suite travels to the trials: its paths are absolute, and trials run in folders of their own
    context = StudyContext(
        model_ref, domains, suite, config.budget, config.train, config.allow_pickle, runner
    )
    from mixopt import __version__

    record = {
        "mixopt_version": __version__, "model": model, "tokenizer": model,
        "domains": str(Path(data).resolve()) if isinstance(data, str | Path) else None,
        "evaluator": str(Path(evaluator).resolve()) if isinstance(evaluator, Path) or (isinstance(evaluator, str) and evaluator.endswith((".yaml", ".yml"))) else evaluator if isinstance(evaluator, str) else repr(evaluator),
        "evaluator_is_reference": isinstance(evaluator, str | Path),
        "config": {**config.to_dict(), "out": str(out)},
        "space": space.to_dict(),
    }  # fmt: skip
    return Study(out, config.with_(out=str(out)), context, space, tuple(baselines), record, resume)


def _check_out(out: Path, resume: bool) -> None:
    marker = out / STUDY_FILE
    if resume and not marker.exists():
        raise ConfigError(f"{out}: not a mixopt study folder (no {STUDY_FILE}); nothing to resume")
    if not resume and marker.exists():
        raise ConfigError(
            f"{out}: already holds a study; resume it with --resume {out}, or choose another --out"
        )
    if not resume:
        require_empty_dir(out)


def run_study(study: Study, quiet: bool = False) -> SearchResult:
    """Run (or resume) the study to its end and write its results."""
    import optuna

    from mixopt.search.samplers import make_sampler, parameterization_for

    out, config = study.out, study.config
    out.mkdir(parents=True, exist_ok=True)
    record = dict(study.record)
    previous = json.loads((out / STUDY_FILE).read_text()) if study.resume else {}
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

    from mixopt.search.confirm import run_confirmation

    started = start_ray(config)
    try:
        total = len(study.baselines) + config.trials
        _search(study, ostudy, tracker, total, quiet)
        best = best_trial(ostudy)
        confirmed = (
            run_confirmation(study, ostudy, tracker, best, quiet)
            if best is not None and config.confirm
            else {}
        )
    finally:
        if started:
            import ray

            ray.shutdown()
    return _finish(study, ostudy, tracker, confirmed, storage_url)


def _search(study: Study, ostudy: Any, tracker: Tracker, total: int, quiet: bool) -> None:
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
    elif early and not quiet:
        print(
            "note: early stopping needs an 'intermediate' task in the evaluator; running every trial to the end"
        )
    progress = Progress(total, 0, concurrency, quiet)
    searcher = MixoptSearcher(
        ostudy, study.space, simplex, tracker, total, config.seed, config.budget, progress
    )
    progress.done = searcher.finished_count()
    if progress.done >= total:
        return
    fit(tune.with_resources(tune.with_parameters(trainable, context=study.context), resources), searcher, scheduler,
         concurrency, study.out, "search")  # fmt: skip


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
        reason = f" (first failure: {failed[0].error})" if failed else ""
        raise ConfigError(f"no trial completed; nothing to report{reason}")
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
    write_json_atomic(
        out / "results.json", {"counts": result.counts(), "trials": [t.__dict__ for t in trials]}
    )
    scores = {"score": best.score, **{f"lift over {n}": v for n, v in result.lift.items()}}
    tracker.tag_best(best_number, best.mixture, scores)
    metrics = {
        "best_score": best.score or 0.0,
        **{f"lift_over_{n}": v for n, v in result.lift.items()},
    }
    tracker.finish_study(metrics, [out / "best_mixture.json", out / "results.json"])
    return result


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
