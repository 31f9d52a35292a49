"""The Python API: ``optimize_mixture(model, data, evaluator, budget=...)``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.budget import parse_budget
from mixopt.data.spec import DomainSpec
from mixopt.errors import ConfigError
from mixopt.events import EventLog
from mixopt.search.config import SearchConfig
from mixopt.search.results import SearchResult
from mixopt.training.config import TrainConfig

__all__ = ["optimize_mixture", "resume_search"]


def optimize_mixture(
    model: str,
    data: str | Path | Sequence[Mapping[str, Any]] | Sequence[DomainSpec],
    evaluator: Any,
    budget: str | int = "50k",
    *,
    train: TrainConfig | Mapping[str, Any] | None = None,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    quiet: bool = False,
    events: str | Path | None = None,
    cache_dir: str | None = None,
    runner: Any = None,
    **options: Any,
) -> SearchResult:
    """Search the domain mixture of ``data`` that maximizes ``evaluator``'s out-of-domain score.

    ``model``: a hub id or local folder. ``data``: a domains file, its parsed list, or
    :class:`DomainSpec` objects.
    ``evaluator``: a task file, ``module:attr``, or an object with ``evaluate(model, tokenizer)``.
    ``budget``: training tokens per trial (``"50k"``). ``train``: a :class:`TrainConfig` (or
    its fields). ``baselines``: extra named mixtures scored beside uniform and natural.
    ``options``: the fields of :class:`SearchConfig` (``trials``, ``sampler``, ``out``...).
    ``quiet``: no progress lines on stderr. ``events``: a file to append the JSON-lines event
    log to (see :mod:`mixopt.events`); the study's folder always gets ``events.jsonl``.
    ``runner``: a picklable ``(TrialSpec, report) -> TrialResult`` to run in place of
    :func:`mixopt.trial.run_trial` (the machinery benchmark uses a trivial one).
    """
    from mixopt.search.study import prepare_study, run_study

    unknown = sorted(set(options) - set(SearchConfig.__dataclass_fields__) - {"budget"})
    if unknown:
        from mixopt.errors import did_you_mean

        raise ConfigError(
            f"optimize_mixture: unknown option {unknown[0]!r}.{did_you_mean(unknown[0], SearchConfig.__dataclass_fields__)}"
        )
    train_config = train if isinstance(train, TrainConfig) else TrainConfig(**(train or {}))
    try:
        tokens = parse_budget(budget)
    except ConfigError as exc:  # check the other inputs too: every problem is reported at once
        from mixopt.search.preflight import check_inputs

        check_inputs(data, model, evaluator, None, options.get("space"), cache_dir=cache_dir,
                     problems=exc.problems)  # fmt: skip
        raise
    config = SearchConfig(budget=tokens, train=train_config,
                          baselines=tuple((n, dict(m)) for n, m in (baselines or {}).items()), **options)  # fmt: skip
    log = EventLog([events] if events is not None else [], quiet=quiet)
    return run_study(
        prepare_study(
            model, data, evaluator, config, cache_dir=cache_dir, runner=runner, events=log
        )
    )


def resume_search(
    out: str | Path, evaluator: Any = None, quiet: bool = False, cache_dir: str | None = None,
    events: str | Path | None = None, runner: Any = None,
) -> SearchResult:  # fmt: skip
    """Continue the study in ``out``: finished trials are kept, interrupted ones run again.

    ``evaluator`` is needed only when the study was started with an evaluator object
    (a task file or ``module:attr`` reference is read back from the study folder).
    ``runner``: the one the study was started with, if any (it is not saved with the study).
    """
    from mixopt.search.study import STUDY_FILE, prepare_study, run_study

    path = Path(out) / STUDY_FILE
    if not path.exists():
        raise ConfigError(f"{out}: not a mixopt study folder (no {STUDY_FILE}); nothing to resume")
    record = json.loads(path.read_text())
    # the folder may have moved since the study started: it is where the study is now
    config = SearchConfig.from_dict(record["config"]).with_(out=str(Path(out).resolve()))
    if evaluator is None:
        if not record.get("evaluator_is_reference"):
            raise ConfigError(
                f"{out}: the study's evaluator was a Python object; pass it again to resume"
            )
        evaluator = record["evaluator"]
    if record.get("domains") is None:
        raise ConfigError(
            f"{out}: the study's domains were given inline; resume it from Python with the same data"
        )
    log = EventLog([events] if events is not None else [], quiet=quiet)
    return run_study(
        prepare_study(
            record["model"], record["domains"], evaluator, config, resume=True, cache_dir=cache_dir,
            runner=runner, events=log,
        )
    )  # fmt: skip
