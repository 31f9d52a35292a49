"""The evaluator interface: anything with ``evaluate(model, tokenizer) -> EvalResult``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from mixopt.errors import MixoptError

__all__ = ["EvalResult", "EvaluationError", "Evaluator", "check_result"]


class EvaluationError(MixoptError):
    """An evaluator failed or returned something that is not a usable score."""


@dataclass(frozen=True)
class EvalResult:
    """An out-of-domain score (higher is better) and the metrics behind it."""

    score: float
    """The number the search maximizes."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Per-task and per-measure figures (``task/accuracy``, ``task/loss``...)."""


@runtime_checkable
class Evaluator(Protocol):
    """Scores a fine-tuned model on data outside every training domain. No base class needed."""

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult: ...


def check_result(result: Any, name: str) -> EvalResult:
    """``result`` if it is an EvalResult with a finite score and finite numeric metrics."""
    if not isinstance(result, EvalResult):
        raise EvaluationError(
            f"evaluator {name!r} returned {type(result).__name__}, not an EvalResult"
        )
    if not isinstance(result.score, int | float) or not math.isfinite(result.score):
        raise EvaluationError(f"evaluator {name!r} returned a non-finite score ({result.score!r})")
    bad = [k for k, v in result.metrics.items() if not isinstance(v, int | float)]
    if bad:
        raise EvaluationError(f"evaluator {name!r}: metric {bad[0]!r} is not a number")
    return result
