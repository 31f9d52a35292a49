"""The Python API: ``optimize_mixture(model, data, evaluator, budget=...)``, ``resume_search``,
``transfer_check`` (a transfer check).

Both run a study (:mod:`mixopt.search`) and then write its report (:mod:`mixopt.report`):
the API is where the two meet, so neither imports the other.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, error_line
from mixopt.events import EventLog
from mixopt.study.spec import StudySpec
from mixopt.study.store import StudyStore

__all__ = ["optimize_mixture", "resume_search", "transfer_check", "write_report_quietly"]


def optimize_mixture(
    model: str | None = None,
    data: str | Path | Sequence[Any] | None = None,
    evaluator: Any = None,
    budget: str | int | None = None,
    *,
    spec: StudySpec | None = None,
    train: Any = None,
    baselines: Mapping[str, Mapping[str, float]] | Sequence[str] | None = None,
    quiet: bool = False,
    events: str | Path | None = None,
    runner: Any = None,
    **settings: Any,
) -> Any:
    """Search the mixture of the ``data`` domains that maximizes ``evaluator``'s out-of-domain
    score; return a :class:`~mixopt.search.orchestration.results.SearchResult`
    (``trials_dataframe()`` for a table).

    ``model``: a hub id or local folder (default: ``$MIXOPT_MODEL``, else
    ``Qwen/Qwen2.5-0.5B``). ``data``: the training domains, as a domains file, its parsed
    list, or :class:`~mixopt.data.spec.DomainSpec` objects (``--domains``; the study spec's
    ``data.domains``). ``evaluator``: a task file, ``module:attr``, or an object with
    ``evaluate(model, tokenizer)``; without one (no out-of-domain set) each trial runs the
    leave-one-out plan, a training per left-out domain (``lodo_domains=`` chooses them;
    ``plan=`` chooses another, see ``mixopt ls plans``). ``budget``: training tokens per
    trial (``"50k"``).
    ``spec``: a whole :class:`~mixopt.study.spec.StudySpec` (the other arguments change it).
    ``train``: a :class:`~mixopt.training.config.TrainConfig` or its fields. ``baselines``:
    extra named mixtures scored beside uniform and natural. ``settings``: any other setting,
    by its name in ``mixopt search`` with underscores (``trials=32``, ``sampler="tpe"``,
    ``out="my-study"``); see ``mixopt search --help``.
    ``quiet``: no progress lines on stderr. ``events``: a file to append the JSON-lines
    event log to; the study's folder always gets ``events.jsonl``. ``runner``: a picklable
    ``(TrialSpec, report) -> TrialResult`` to run in place of the real trial.
    """
    if "domains" in settings:  # one name for the domains here: data=
        raise ConfigError("optimize_mixture: the domains are data= (the second argument)")
    given = {"model": model, "domains": data, "evaluator": evaluator, "budget": budget}
    settings.update({k: v for k, v in given.items() if v is not None})
    if baselines is not None:  # {name: mixture}, or mixture files as --baseline takes them
        settings["baselines"] = baselines
    if train is not None:
        settings.update(train if isinstance(train, Mapping) else _fields(train))
    study_spec = _spec(spec or StudySpec(), settings)
    return _run(study_spec, False, quiet, events, runner)


def resume_search(
    out: str | Path,
    evaluator: Any = None,
    *,
    quiet: bool = False,
    events: str | Path | None = None,
    runner: Any = None,
    **settings: Any,
) -> Any:
    """Continue the study in ``out``: finished trials are kept, interrupted ones run again.

    ``evaluator`` is needed only when the study was started with an evaluator object (a task
    file or ``module:attr`` reference is read back from the study folder). ``settings`` may
    amend the study (``trials=N`` grows it to N searched trials, ``confirm=``) and change how
    the trials run (``concurrency``, ``executor``, ``device``, ``tracking_uri``...): the new
    values are used and saved in ``study.json``. Any other change is refused, naming each.
    ``runner``: the one the study was started with, if any (it is not saved).
    """
    return _run(_held(out, evaluator, settings), True, quiet, events, runner)


def transfer_check(
    out: str | Path,
    budget: str | int,
    seeds: int = 2,
    *,
    evaluator: Any = None,
    quiet: bool = False,
    events: str | Path | None = None,
    runner: Any = None,
    **settings: Any,
) -> Any:
    """Check how the finished study in ``out`` transfers to another ``budget`` (``"500k"``):
    its best mixture and the uniform and natural baselines trained there on ``seeds`` fresh
    seeds, with the study's recipe, on the whole pools (also when the study searched on pools
    cut to ``target_budget``). Returns the :class:`~mixopt.study.answer.Transfer`: the lift
    at ``budget`` with its interval and verdict and the share of the study's own lift it keeps; written to
    ``best_mixture.json`` (``transfer``), the report and MLflow. Killed midway, it runs again
    only what is missing. A budget past the repetition caps is refused before anything runs.
    ``evaluator``, ``runner``, ``settings`` (how the runs execute): as for :func:`resume_search`."""
    from mixopt.budget import parse_budget
    from mixopt.search.orchestration.faults import StudyFailedError
    from mixopt.search.orchestration.study import prepare_study, run_study
    from mixopt.search.orchestration.transfer import answer_failed, check_transfer
    from mixopt.study.answer import transfers

    tokens = parse_budget(budget)
    spec = _held(out, evaluator, settings)
    study = prepare_study(
        spec,
        resume=True,
        events=EventLog([events] if events is not None else [], quiet=quiet),
        runner=runner,
    )
    check_transfer(study, tokens, seeds)
    run_study(study, (write_report_quietly,), tokens, seeds)
    own, store = study.spec.search.confirm_budget or study.spec.search.budget, study.store
    assert own is not None
    estimate = study.spec.scoring.estimate()
    done = transfers(store.trials(), store.confirmations(), own, store.decision(), estimate)
    if tokens not in done:
        raise StudyFailedError(answer_failed(study, tokens))
    return done[tokens]


def _held(out: str | Path, evaluator: Any, settings: Mapping[str, Any]) -> StudySpec:
    """The spec of the study in ``out``, with the settings a resumed study may change."""
    store = StudyStore(out)
    record = store.read_record() if store.exists() else None
    if record is None:
        raise ConfigError(
            f"{store.folder}: not a mixopt study folder (no {store.STUDY}); nothing to resume"
        )
    held = record.study_spec(str(store.path(store.STUDY)))
    # the folder may have moved since the study started: it is where the study is now
    changes: dict[str, Any] = {"out": str(store.folder), **settings}
    if evaluator is not None:
        changes["evaluator"] = evaluator
    elif not record.evaluator_is_reference:
        raise ConfigError(
            f"{out}: the study's evaluator was a Python object; pass it again to resume"
        )
    spec = _spec(held, changes)
    # an evaluator object passed again is the study's own (its repr may differ); a moved folder is the same study;
    # paths are compared as absolute: a study resumed from another folder names the same files
    refused = [
        d
        for d in spec.absolute().differences(held.absolute(), on_resume=True)
        if not d.startswith(("evaluator:", "out:"))
    ]
    if refused:
        raise ConfigError(
            f"{out}: a resumed study cannot change what its trials are ({'; '.join(refused)}); "
            "start a new study with another --out to change it"
        )
    return spec


def _run(spec: StudySpec, resume: bool, quiet: bool, events: str | Path | None, runner: Any) -> Any:
    from mixopt.search.orchestration.study import prepare_study, run_study

    log = EventLog([events] if events is not None else [], quiet=quiet)
    study = prepare_study(spec, resume=resume, events=log, runner=runner)
    # the storage URL as given (with any password, which study.json does not keep)
    return run_study(
        study, finishers=(functools.partial(write_report_quietly, storage=spec.output.storage),)
    )


def _spec(base: StudySpec, settings: Mapping[str, Any]) -> StudySpec:
    try:
        return base.replace(**settings)
    except ConfigError as exc:
        problems = [
            p.replace("unknown setting", "optimize_mixture: unknown option") for p in exc.problems
        ]
        raise ConfigError(problems) from None


def _fields(obj: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def write_report_quietly(folder: Path, storage: str | None = None) -> Path | None:
    """The study's HTML report (``folder/report/``), or None with a warning line if it failed:
    the results are written already, and a report can be made again with ``mixopt report``."""
    try:
        from mixopt.report import write_report

        return write_report(folder, storage=storage).parent
    except Exception as exc:
        # a warning, not progress: shown even with --quiet
        print(
            f"warning: the report was not written ({error_line(exc)}); retry with: mixopt report {folder}",
            file=sys.stderr,
            flush=True,
        )
        return None
