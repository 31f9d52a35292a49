"""A study from start to end: check every input, open the folder, run the loop on an
executor (baselines, searched trials, confirmation runs), write the results. Resumable
from its folder."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import ConfigError, MixoptError, StorageError, StudyInterrupted
from mixopt.evaluators.in_domain import first_line as in_domain_line
from mixopt.evaluators.in_domain import held_out_counts
from mixopt.evaluators.suite import EvalSuite
from mixopt.events import EventLog
from mixopt.io import without_password
from mixopt.search.executors._base import Executor, ExecutorFactory
from mixopt.search.executors.context import StudyContext
from mixopt.search.orchestration.preflight import Checked
from mixopt.search.orchestration.prepared import PreparedStudy
from mixopt.search.orchestration.results import SearchResult
from mixopt.search.orchestration.session import Finisher, Session
from mixopt.study.record import StudyRecord
from mixopt.study.spec import MODEL_ENV, StudySpec, default_model
from mixopt.study.store import StudyStore
from mixopt.study.warm import WarmStart, plan_warm_start

if TYPE_CHECKING:
    from mixopt.plans import TrialPlan

__all__ = ["objective_problems", "prepare_study", "proxy_pools", "run_study"]


def prepare_study(
    spec: StudySpec, resume: bool = False, events: EventLog | None = None, runner: Any = None
) -> PreparedStudy:
    """Check everything a study needs before any trial runs; every problem is reported at once,
    and nothing is written (no output folder, no cache entry) unless every check passes.

    ``runner``: a picklable ``(TrialSpec, report) -> TrialResult`` run in place of
    :func:`mixopt.trial.run_trial` (the machinery benchmark uses a trivial one).
    """
    from mixopt.data.allocation import natural_mixture, uniform_mixture
    from mixopt.search.orchestration.preflight import check_filters
    from mixopt.trial import TrialSpec

    chosen = None  # where the model came from, when none was given
    if spec.model.name is None:
        name, chosen = default_model()
        spec = spec.replace(model=name)
    spec = spec.absolute()  # trials run in folders of their own; a resume runs from anywhere
    store = StudyStore(spec.output.out, spec.output.storage)
    events = events if events is not None else EventLog()
    _started(spec, store, resume, events)
    search = spec.search
    checked = _checked(spec, store, resume, events, chosen)
    assert checked.domains is not None and checked.plan is not None and checked.model_ref
    objective_problems(spec, checked.objectives, store if resume else None)
    assert search.budget is not None
    domains = proxy_pools(checked.domains, search.budget, search.target_budget)
    baselines = (
        ("uniform", uniform_mixture(domains, search.budget)),
        ("natural", natural_mixture(domains, search.budget)),
        *checked.baselines,
    )
    scores = check_filters(
        checked.space,
        checked.domains,
        checked.model_ref,
        search.budget,
        spec.data.cache_dir,
        events,
    )
    # the loaded suite travels to the trials: its paths are absolute, and trials run in folders of their own
    trial = TrialSpec(
        checked.model_ref,
        domains,
        {},
        search.budget,
        checked.suite,
        spec.train,
        search.seed,
        spec.model.allow_pickle,
        scores=scores,
        plan=checked.plan,
    )
    warm = (
        plan_warm_start(spec, checked.domains, checked.space, resume)
        if search.warm_start
        else WarmStart()
    )
    _say_costs(checked.plan, checked.suite, domains, search.trials, events)
    _say_loss_data(spec.scoring.evaluator, events)
    # the whole pools travel too only where the trials' are cut and a race runs at another budget
    cut = search.target_budget is not None
    whole = tuple(checked.domains) if cut and search.confirm_budget else None
    context = StudyContext(trial, runner, spec.execution.trial_timeout, whole)
    return PreparedStudy(
        spec,
        store,
        context,
        checked.space,
        baselines,
        _record(spec, checked),
        resume,
        events,
        warm,
        checked.domains,
    )


def _record(spec: StudySpec, checked: Checked) -> StudyRecord:
    """What ``study.json`` holds: the spec, and enough to resume."""
    from mixopt._version import __version__

    return StudyRecord(
        spec=spec.to_dict(),
        space=checked.space.to_dict(),
        mixopt_version=__version__,
        tokenizer=spec.model.name,
        evaluator_is_reference=isinstance(spec.scoring.evaluator, str | Path | None),
    )


def _started(spec: StudySpec, store: StudyStore, resume: bool, events: EventLog) -> None:
    """The event that opens the log, then a refusal of a spec that lacks a needed setting."""
    search = spec.search
    # no line for people: a refused study prints only its problems
    events.emit(
        "study_started",
        None,
        out=str(store.folder),
        resume=resume,
        model=spec.model.name,
        budget=search.budget,
        trials=search.trials,
        sampler=search.sampler,
        seed=search.seed,
    )
    if spec.missing():
        needed = ", ".join(f"--{k}" for k in spec.missing())
        raise ConfigError(f"mixopt search needs {needed} (or --resume OUT)")


def _checked(
    spec: StudySpec, store: StudyStore, resume: bool, events: EventLog, chosen: str | None
) -> Checked:
    """Every input checked at once, the output folder and the clusters' files included."""
    from mixopt.search.orchestration.preflight import check_inputs

    problems = _out_problems(store, resume, spec) + _cluster_problems(spec)
    try:
        return check_inputs(spec, problems, events)
    except ConfigError as exc:
        raise _default_model_problem(exc, spec.model.name, chosen) from None


def _say_costs(
    plan: TrialPlan,
    suite: EvalSuite | None,
    domains: Sequence[TokenizedDomain],
    trials: int,
    events: EventLog,
) -> None:
    """What the trials cost, before anything else the study says: the plan's first line
    (leave-one-out's k trainings a trial, and the study's total), and what --in-domain
    holds out."""
    from mixopt.plans import cost_line, estimate_of, no_target_line

    said = cost_line(plan, [d.name for d in domains], trials)
    if said is not None:
        line, fields = said
        events.emit("trial_plan", line, plan=plan.name, **fields)
    if no_target := no_target_line(plan):
        events.emit("no_target", no_target, estimate=estimate_of(plan))
    if suite is not None and (held := in_domain_line(suite)):
        events.emit("in_domain", held, held_out=held_out_counts(suite))


def _say_loss_data(evaluator: Any, events: EventLog) -> None:
    """A JSONL file given as the evaluator is read as a loss task: say so, and how to ask
    for another kind."""
    from mixopt.evaluators.tasks import loss_data_line

    if line := loss_data_line(evaluator):
        events.emit("evaluator_data", line, data=str(evaluator), kind="loss")


def objective_problems(
    spec: StudySpec, objectives: Sequence[str], held: StudyStore | None = None
) -> None:
    """Refuse, one line each, what several objectives cannot go with: ``--warm-start`` (earlier
    trials hold one score), and a resumed study (``held``) whose objectives were others
    (their number and order define the study)."""
    problems = []
    if len(objectives) > 1 and spec.search.warm_start:
        problems.append(
            "--warm-start reuses trials of one score; a study with several objectives cannot take them"
        )
    if held is not None and held.exists() and held.objectives() != tuple(objectives):
        was = ", ".join(held.objectives()) or "one score"
        problems.append(
            f"{held.folder}: the study's objectives are {was}, not {', '.join(objectives) or 'one score'}; "
            "objectives define a study: choose another --out for these"
        )
    if problems:
        raise ConfigError(problems)


def _default_model_problem(exc: ConfigError, model: str | None, chosen: str | None) -> ConfigError:
    """The problems, with the default model's failure to load as one line naming --model."""
    from mixopt.models import OFFLINE_HINT

    if chosen is None:
        return exc
    mine = f"model {model!r}"
    found = [p for p in exc.problems if p.startswith(mine)]
    if not found:
        return exc
    # the default hub id fails where there is no network and no cached copy; $MIXOPT_MODEL's own reason is kept
    why = (
        found[0][len(mine) :].lstrip(": ")
        if chosen.startswith("$")
        else "no network, and not in the Hugging Face cache"
    )
    line = (
        f"no --model given, and {chosen} {model!r} cannot be loaded ({why}): give --model (a hub "
        f"id or a local folder; {OFFLINE_HINT}) or set {MODEL_ENV}"
    )
    return ConfigError([line, *(p for p in exc.problems if not p.startswith(mine))])


def proxy_pools(
    domains: Sequence[TokenizedDomain], budget: int, target: int | None
) -> tuple[TokenizedDomain, ...]:
    """The pools a study's trials draw from: the whole domains, or (with a target budget) each
    cut by the budget ratio, refused when the cut pools cannot fill the budget."""
    from mixopt.data.allocation import check_budget
    from mixopt.data.subsample import subsample_domains

    if target is None:
        return tuple(domains)
    cut = subsample_domains(domains, budget, target)
    check_budget(cut, budget)
    return cut


def _out_problems(store: StudyStore, resume: bool, spec: StudySpec) -> list[str]:
    """Problems with the output folder: a study to resume that is not there, or a new study
    that would write over another study or over unrelated files."""
    from mixopt.io import require_empty_dir

    folder = store.folder
    if held := store.held_by_another():  # a driver runs it now: nothing else is said or written
        return [held]
    if resume:
        return (
            []
            if store.exists()
            else [f"{folder}: not a mixopt study folder (no {store.STUDY}); nothing to resume"]
        )
    if store.exists():
        return [_held_study(store, spec)]
    try:
        require_empty_dir(folder)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _held_study(store: StudyStore, spec: StudySpec) -> str:
    """Why a new study cannot go where one is, and how to resume or grow that one instead."""
    from mixopt.study.spec import option_of

    folder = store.folder
    try:
        held = store.read_spec()
    except ConfigError:
        return f"{folder}: holds a study whose record does not read back; choose another --out"
    grow = f"mixopt search --resume {folder} --trials N (N: the new total of searched trials, now {held.search.trials})"
    if spec.differences(held, on_resume=True):
        # a finished study can still grow, with its own settings
        more = f", or add trials to it with {grow}" if store.path(store.BEST).is_file() else ""
        return f"{folder}: holds a different study (its {'; '.join(spec.differences(held))}); choose another --out{more}"
    amend = " ".join(f"{option_of(k)} {v}" for k, (_, v) in spec.changes(held).items())
    if amend:
        return f"{folder}: holds this study with other settings ({'; '.join(spec.differences(held))}); change them with mixopt search --resume {folder} {amend}, or choose another --out"
    if store.path(store.BEST).is_file():
        return f"{folder}: already holds this study, finished; add trials with {grow}, or choose another --out"
    return f"{folder}: already holds this study; resume it with --resume {folder}, or choose another --out"


def run_study(
    study: PreparedStudy,
    finishers: Sequence[Finisher] = (),
    budget: int | None = None,
    seeds: int | None = None,
) -> SearchResult:
    """Run (or resume) the study to its end and write its results; then each finisher runs
    (the caller's report, say) and what it returns is logged with the study. ``budget``,
    ``seeds``: a finished study's transfer check instead (see :func:`mixopt.search.orchestration.transfer.check_transfer`): its
    best mixture and baselines on ``seeds`` fresh seeds at ``budget``, on the whole pools.

    A study stopped by SIGINT or SIGTERM raises :class:`~mixopt.errors.StudyInterrupted`, and
    one whose storage or disk fails a :class:`~mixopt.errors.StorageError`, each naming the
    command that resumes it; neither writes a result (what finished is in its storage)."""
    from mixopt.search.orchestration.faults import storage_cause
    from mixopt.search.orchestration.signals import interrupted_by, interruptible

    resume = _resume_command(study, budget, seeds)
    try:
        with interruptible():  # Ray's start included
            return _run_to_end(study, finishers, budget, seeds)
    except MixoptError:
        raise
    except BaseException as exc:
        signum = interrupted_by(exc)
        if signum is not None:
            _said(study, "study_interrupted", signal=signum, resume=resume)
            raise StudyInterrupted(signum, resume) from None
        cause = storage_cause(exc) if isinstance(exc, Exception) else None
        if cause is None:
            raise
        _said(study, "storage_failed", cause=cause, resume=resume)
        where = without_password(study.store.storage_url)
        raise StorageError(
            f"the study's storage or disk failed ({cause}; storage {where}); what finished is kept: "
            f"once it is fixed, resume with {resume}"
        ) from None


def _run_to_end(
    study: PreparedStudy, finishers: Sequence[Finisher], budget: int | None, seeds: int | None
) -> SearchResult:
    from mixopt.search.orchestration.loop import StudyLoop
    from mixopt.search.orchestration.signals import interruptible

    executor = _executor(study, budget)
    try:
        executor.start()  # before anything imports Ray for the study, which reads its settings once
        # again: a local Ray's start put signal handlers of its own in place of the study's
        with interruptible():
            try:
                # the first write: a Ray that does not start writes nothing; it takes the driver's lock
                session = Session.open(study)
                loop = StudyLoop(session, executor.slots(), budget, seeds)
                executor.run(loop)
            finally:
                executor.close()
            if loop.stopped is not None:
                session.fail(loop.stopped)
            return session.finish(finishers)
    finally:
        executor.close()  # where it did not start
        study.store.unlock()


def _resume_command(study: PreparedStudy, budget: int | None, seeds: int | None) -> str:
    """The command that continues this run: the study's resume, or the transfer check again."""
    folder = study.store.folder
    if budget is None:
        return f"mixopt search --resume {folder}"
    from mixopt.budget import format_budget

    return f"mixopt transfer {folder} --budget {format_budget(budget)} --seeds {seeds}"


def _said(study: PreparedStudy, event: str, **fields: Any) -> None:
    """The event, where the log can still be written (a full disk may refuse it too)."""
    with contextlib.suppress(OSError):
        study.events.emit(event, None, out=str(study.store.folder), **fields)


def _cluster_problems(spec: StudySpec) -> list[str]:
    """An unknown executor, or a Ray cluster to join that does not answer (checked before
    anything is written)."""
    from mixopt.search.executors import executor_problems

    return executor_problems(spec.execution)


def _executor(study: PreparedStudy, budget: int | None = None) -> Executor:
    context = study.context
    if budget is not None:  # a transfer check: the target run's budget, on the whole pools
        context = dataclasses.replace(
            context, trial=dataclasses.replace(context.trial, budget=budget, domains=study.pools)
        )
    from mixopt.search.executors import EXECUTORS

    factory: ExecutorFactory = EXECUTORS.get(study.spec.execution.executor)
    return factory(
        context, study.spec.execution, study.spec.train.device, study.store.path(study.store.RAY)
    )
