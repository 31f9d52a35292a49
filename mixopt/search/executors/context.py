"""What every executor runs for a job: the study's trial with the job's mixture, seed and
knobs, under the study's time limit, its intermediate scores reported as they come.
(Ray Tune's side of it is :class:`mixopt.search.executors._tune.TrialActor`.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mixopt.search.orchestration.faults import TimeLimit, check_finite
from mixopt.trial import TrialSpec

__all__ = ["StudyContext", "execute", "result_to_dict"]


@dataclass(frozen=True)
class StudyContext:
    """What every trial of a study shares (sent once through Ray's object store)."""

    trial: TrialSpec
    """The study's trial: model, tokenized domains, budget, evaluator, training; each job
    sets its own mixture and seed, and overrides the knobs the space searches."""
    runner: Any = None
    """A picklable callable ``(TrialSpec, report) -> TrialResult`` run instead of
    :func:`mixopt.trial.run_trial` (e.g. a trivial one, to measure what the machinery costs)."""
    trial_timeout: float | None = None
    """Seconds a trial may run; None: no limit."""
    pools: tuple[Any, ...] | None = None
    """The whole pools, where ``--target-budget`` cut the trial's domains (a job at another
    budget trains on them); None: the trial's domains are the whole pools."""


def result_to_dict(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = dataclasses.asdict(result)
    out["loss_curve"] = [list(p) for p in result.loss_curve]
    out["intermediate"] = [list(p) for p in result.intermediate]
    return out


def execute(
    context: StudyContext, config: dict[str, Any], report: Callable[[int, int, float], bool | None]
) -> dict[str, Any]:
    """Run one job (``config``: from :meth:`Job.config`); return what it measured, with
    ``score`` None when ``report`` stopped it early. Raises what the trial raises."""
    from mixopt.trial import run_trial

    base = context.trial
    if config.get("budget") is not None:  # a run at another budget: on the whole pools
        whole = context.pools if context.pools is not None else base.domains
        base = dataclasses.replace(base, budget=int(config["budget"]), domains=whole)
    spec = dataclasses.replace(
        base,
        mixture=dict(config["mixture"]),
        seed=int(config["seed"]),
        filters=dict(config.get("filters", {})),
        train=dataclasses.replace(base.train, **config.get("train", {})),
    )

    def on_checkpoint(step: int, total: int, score: float | None) -> bool | None:
        if score is None:
            return None
        check_finite(score, "intermediate score")  # a diverged run fails now, not at the end
        return report(step, total, score)

    with TimeLimit(context.trial_timeout):
        result = (context.runner or run_trial)(spec, on_checkpoint)
        check_finite(result.score)
    return result_to_dict(result)
