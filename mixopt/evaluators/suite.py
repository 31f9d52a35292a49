"""A suite of evaluation tasks aggregated to one score.

The score is the weighted mean of the tasks' scores. Tasks whose scores live on different
scales (a negative loss near -7, an accuracy between 0 and 1) are never averaged silently:
each built-in kind declares its ``score_scale``, and a suite whose scored tasks declare
different scales needs an explicit ``weight`` on each of them (the user's trade-off, fixed in
the task file, so it is the same in every trial, on resume and in confirmation runs), else it
is refused when the task file is read. A plain mean would let the task with the widest range
decide alone: a loss moves by tenths between mixtures, an accuracy of 0.33 by hundredths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mixopt.errors import ConfigError, MixoptError, error_line
from mixopt.evaluators._base import EvalResult, EvaluationError, Evaluator, check_result

__all__ = ["EvalSuite", "NamedTask", "score_scale"]


@dataclass(frozen=True)
class NamedTask:
    name: str
    """Prefix of the task's metrics (``name/accuracy``)."""
    evaluator: Evaluator
    weight: float | None = None
    """Weight of the task's score in the suite's score (None: not given, counts as 1; tasks on
    different scales must each be given one)."""

    @property
    def share(self) -> float:
        """The weight the suite's mean uses."""
        return 1.0 if self.weight is None else self.weight


@dataclass(frozen=True)
class EvalSuite:
    """Several tasks; the score is their weighted mean, and every task's metrics are kept.
    Scored tasks (weight above 0) on different scales (see :func:`score_scale`) must each
    have an explicit weight."""

    tasks: tuple[NamedTask, ...]
    intermediate: str | None = None
    """The task scored at training checkpoints for early stopping (a cheap one, e.g. ``loss``);
    None: no intermediate scores."""

    def __post_init__(self) -> None:
        names = [t.name for t in self.tasks]
        if not names:
            raise ConfigError("an evaluation suite needs at least one task")
        if len(set(names)) != len(names):
            raise ConfigError(f"task names must be unique, got {names}")
        if (
            any(
                not (isinstance(t.share, int | float) and math.isfinite(t.share) and t.share >= 0)
                for t in self.tasks
            )
            or not sum(t.share for t in self.tasks) > 0
        ):
            raise ConfigError("task weights must be finite, non-negative, and not all zero")
        if self.intermediate is not None and self.intermediate not in names:
            raise ConfigError(f"intermediate task {self.intermediate!r} is not one of {names}")
        _check_scales(self.tasks)

    def check(self) -> list[str]:
        """Problems with the tasks' data, each on one line (tasks without ``check`` pass)."""
        problems: list[str] = []
        for t in self.tasks:
            check = getattr(t.evaluator, "check", None)
            if check is None:
                continue
            try:
                check()
            except MixoptError as exc:
                problems.extend(f"task {t.name!r}: {p}" for p in exc.problems)
        return problems

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        results = {t.name: run_task(t, model, tokenizer) for t in self.tasks}
        total = sum(t.share for t in self.tasks)
        score = sum(t.share * results[t.name].score for t in self.tasks) / total
        metrics = {
            f"{name}/{k}": float(v) for name, r in results.items() for k, v in r.metrics.items()
        }
        metrics.update({f"{name}/score": r.score for name, r in results.items()})
        return EvalResult(score, metrics)

    def intermediate_evaluator(self) -> NamedTask | None:
        return next((t for t in self.tasks if t.name == self.intermediate), None)


def score_scale(evaluator: Any) -> str | None:
    """What an evaluator's score measures, as its ``score_scale`` attribute declares it (the
    built-in kinds: ``"fraction"``, a rate between 0 and 1; ``"negative loss"``, unbounded);
    None when it does not say."""
    scale = getattr(evaluator, "score_scale", None)
    return scale if isinstance(scale, str) else None


def _check_scales(tasks: tuple[NamedTask, ...]) -> None:
    """Refuse a plain mean of scores on different scales: each scored task needs a weight."""
    scored = [t for t in tasks if t.share > 0]
    if len({score_scale(t.evaluator) for t in scored}) < 2 or all(t.weight is not None for t in scored):
        return
    named = ", ".join(f"{t.name!r} ({score_scale(t.evaluator) or 'scale not declared'})" for t in scored)
    raise ConfigError(
        f"tasks {named} score on different scales, so a plain mean would let one decide alone: "
        "give every scored task a 'weight:' (the score is the weighted mean; e.g. 1 on the "
        "accuracy and 0.1 on the loss), or 'weight: 0' on a task to keep its metrics (and its "
        "use as 'intermediate') without scoring it"
    )


def run_task(task: NamedTask, model: Any, tokenizer: Any) -> EvalResult:
    """Run one task; any failure becomes a one-line :class:`EvaluationError` naming the task."""
    try:
        result = task.evaluator.evaluate(model, tokenizer)
    except MixoptError:
        raise
    except Exception as exc:
        raise EvaluationError(f"evaluator {task.name!r} failed: {error_line(exc)}") from exc
    return check_result(result, task.name)
