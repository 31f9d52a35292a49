"""What a Ray Tune trial runs: :func:`run_trial` with its scores reported to Tune.

Module-level on purpose: Tune pickles the trainable by reference.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from dataclasses import dataclass
from typing import Any

from mixopt.data.tokenize import TokenizedDomain
from mixopt.errors import error_line
from mixopt.search.faults import TimeLimit, check_finite
from mixopt.training.config import TrainConfig

__all__ = ["PROTECTED_KEY", "StudyContext", "result_to_dict", "trainable"]

PROTECTED_KEY = "baseline_intermediate"


@dataclass(frozen=True)
class StudyContext:
    """What every trial of a study shares (sent once through Ray's object store)."""

    model: str
    domains: tuple[TokenizedDomain, ...]
    evaluator: Any
    budget: int
    train: TrainConfig
    allow_pickle: bool = False
    runner: Any = None
    """A picklable callable ``(TrialSpec, report) -> TrialResult`` run instead of
    :func:`run_trial` (e.g. a trivial one, to measure what the machinery costs)."""
    trial_timeout: float | None = None
    """Seconds a trial may run; None: no limit."""


def result_to_dict(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = dataclasses.asdict(result)
    out["loss_curve"] = [list(p) for p in result.loss_curve]
    out["intermediate"] = [list(p) for p in result.intermediate]
    return out


def trainable(config: dict[str, Any], context: StudyContext) -> None:
    """Run one trial; report each intermediate score, then the final result."""
    import ray
    from ray import tune

    from mixopt.trial import TrialSpec, run_trial

    train = dataclasses.replace(context.train, **config.get("train", {}))
    spec = TrialSpec(context.model, context.domains, config["mixture"], context.budget, context.evaluator, train,
                     int(config["seed"]), context.allow_pickle)  # fmt: skip
    last: list[float] = []
    # baselines are never stopped early (the study reports the lift over them): their
    # intermediate scores go under a key the scheduler does not watch
    key = PROTECTED_KEY if config.get("protected") else "intermediate"

    def report(step: int, total: int, score: float | None) -> None:
        if score is not None:
            check_finite(score, "intermediate score")  # a diverged run fails now, not at the end
            last.append(score)
            tune.report({key: score, "step": step, "total_steps": total})

    try:
        with TimeLimit(context.trial_timeout):
            result = (context.runner or run_trial)(spec, report)
            check_finite(result.score)
    except Exception as exc:  # not SystemExit/StopIteration: Tune's ways of ending a trial
        # the trial's own fault, told apart from a dead worker (which reports nothing): the
        # reason reaches Optuna and MLflow as one line, Tune keeps it and the traceback
        tune.report({"error": error_line(exc), "traceback": traceback.format_exc()[-4000:]})
        raise
    payload = result_to_dict(result)
    payload["node"] = (
        ray.get_runtime_context().get_node_id()
    )  # where it ran (a cluster has several)
    # what it held ({"CPU": 1.0, "GPU": 1.0}): the report's CPU- and GPU-hours
    payload["resources"] = ray.get_runtime_context().get_assigned_resources()  # type: ignore[no-untyped-call]
    final = {"score": result.score, "result_json": json.dumps(payload)}
    if last:
        final[key] = last[-1]
    tune.report(final)
