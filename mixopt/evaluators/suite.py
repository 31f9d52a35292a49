"""A suite of evaluation tasks aggregated to one score, or kept apart as objectives.

The score is the weighted mean of the tasks' scores. Tasks whose scores live on different
scales (a negative loss near -7, an accuracy between 0 and 1) are never averaged silently:
each built-in kind declares its ``score_scale``, and a suite whose scored tasks declare
different scales needs an explicit ``weight`` on each of them (the user's trade-off, fixed in
the task file, so it is the same in every trial, on resume and in confirmation runs), else it
is refused when the task file is read. A plain mean would let the task with the widest range
decide alone: a loss moves by tenths between mixtures, an accuracy of 0.33 by hundredths.

A suite with ``objectives`` (scored tasks named in the task file's ``objectives:`` or by
``--objective``) is not combined: each objective's score is maximized on its own, so a
weight on an objective is refused (weights combine tasks into one score), and tasks on
different scales need none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mixopt.errors import ConfigError, MixoptError, did_you_mean, error_line
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
    objectives: tuple[str, ...] = ()
    """Tasks whose scores are maximized each on its own (a multi-objective study with two or
    more); empty: the weighted mean is the one score. With objectives the suite's ``score`` is
    the first objective's (what single-score views such as progress lines show)."""

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
        if self.objectives:
            _check_objectives(self.tasks, tuple(self.objectives))
        else:
            _check_scales(self.tasks)

    @property
    def multi_objective(self) -> bool:
        """Whether a study over this suite has several objectives."""
        return len(self.objectives) > 1

    def with_objectives(self, objectives: Sequence[str]) -> EvalSuite:
        """This suite with ``objectives`` in place of its own (checked as a task file's are)."""
        return replace(self, objectives=tuple(objectives))

    def objective_scores(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Each objective's score, in order, from a result's metrics (``task/score``)."""
        missing = [o for o in self.objectives if f"{o}/score" not in metrics]
        if missing:
            raise EvaluationError(
                f"the result has no score for the objective{'s' * (len(missing) > 1)} {', '.join(missing)}"
            )
        return {o: float(metrics[f"{o}/score"]) for o in self.objectives}

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
        if self.objectives:
            score = results[self.objectives[0]].score
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
    if len({score_scale(t.evaluator) for t in scored}) < 2 or all(
        t.weight is not None for t in scored
    ):
        return
    named = ", ".join(
        f"{t.name!r} ({score_scale(t.evaluator) or 'scale not declared'})" for t in scored
    )
    raise ConfigError(
        f"tasks {named} score on different scales, so a plain mean would let one decide alone: "
        "give every scored task a 'weight:' (the score is the weighted mean; e.g. 1 on the "
        "accuracy and 0.1 on the loss), or 'weight: 0' on a task to keep its metrics (and its "
        "use as 'intermediate') without scoring it"
    )


def _check_objectives(tasks: tuple[NamedTask, ...], objectives: tuple[str, ...]) -> None:
    """Each objective names one scored task, once, with no weight (one line per problem)."""
    by_name = {t.name: t for t in tasks}
    known = ", ".join(by_name)
    problems = [
        f"objective {o!r} is not a task of the evaluator.{did_you_mean(o, by_name) or f' Its tasks: {known}.'}"
        for o in dict.fromkeys(objectives)
        if o not in by_name
    ]
    twice = sorted({o for o in objectives if objectives.count(o) > 1})
    if twice:
        problems.append(
            f"objective{'s' * (len(twice) > 1)} {', '.join(map(repr, twice))} named twice; name each once"
        )
    unscored = [o for o in dict.fromkeys(objectives) if o in by_name and by_name[o].weight == 0]
    if unscored:
        problems.append(
            f"objective{'s' * (len(unscored) > 1)} {', '.join(map(repr, unscored))} {'has' if len(unscored) == 1 else 'have'} "
            "weight 0 (not scored); drop the weight, or choose a scored task"
        )
    weighted = [
        o for o in dict.fromkeys(objectives) if o in by_name and by_name[o].weight not in (None, 0)
    ]
    if weighted:
        problems.append(
            f"task{'s' * (len(weighted) > 1)} {', '.join(map(repr, weighted))} {'is an objective and has' if len(weighted) == 1 else 'are objectives and have'} "
            "a 'weight:'; weights combine tasks into one score, objectives are kept apart: drop the weight"
        )
    if problems:
        raise ConfigError(problems)


def run_task(task: NamedTask, model: Any, tokenizer: Any) -> EvalResult:
    """Run one task; any failure becomes a one-line :class:`EvaluationError` naming the task."""
    try:
        result = task.evaluator.evaluate(model, tokenizer)
    except MixoptError:
        raise
    except Exception as exc:
        raise EvaluationError(f"evaluator {task.name!r} failed: {error_line(exc)}") from exc
    return check_result(result, task.name)
