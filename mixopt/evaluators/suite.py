"""A suite of evaluation tasks aggregated to one score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mixopt.errors import ConfigError, MixoptError, error_line
from mixopt.evaluators._base import EvalResult, EvaluationError, Evaluator, check_result

__all__ = ["EvalSuite", "NamedTask"]


@dataclass(frozen=True)
class NamedTask:
    name: str
    """Prefix of the task's metrics (``name/accuracy``)."""
    evaluator: Evaluator
    weight: float = 1.0
    """Weight of the task's score in the suite's score."""


@dataclass(frozen=True)
class EvalSuite:
    """Several tasks; the score is their weighted mean, and every task's metrics are kept."""

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
                not (
                    isinstance(t.weight, int | float) and math.isfinite(t.weight) and t.weight >= 0
                )
                for t in self.tasks
            )
            or not sum(t.weight for t in self.tasks) > 0
        ):
            raise ConfigError("task weights must be finite, non-negative, and not all zero")
        if self.intermediate is not None and self.intermediate not in names:
            raise ConfigError(f"intermediate task {self.intermediate!r} is not one of {names}")

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
        total = sum(t.weight for t in self.tasks)
        score = sum(t.weight * results[t.name].score for t in self.tasks) / total
        metrics = {
            f"{name}/{k}": float(v) for name, r in results.items() for k, v in r.metrics.items()
        }
        metrics.update({f"{name}/score": r.score for name, r in results.items()})
        return EvalResult(score, metrics)

    def intermediate_evaluator(self) -> NamedTask | None:
        return next((t for t in self.tasks if t.name == self.intermediate), None)


def run_task(task: NamedTask, model: Any, tokenizer: Any) -> EvalResult:
    """Run one task; any failure becomes a one-line :class:`EvaluationError` naming the task."""
    try:
        result = task.evaluator.evaluate(model, tokenizer)
    except MixoptError:
        raise
    except Exception as exc:
        raise EvaluationError(f"evaluator {task.name!r} failed: {error_line(exc)}") from exc
    return check_result(result, task.name)
