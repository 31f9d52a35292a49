"""Out-of-domain evaluators: the ``Evaluator`` protocol, built-in task kinds, suites, task files.

A user evaluator needs no base class: any object with ``evaluate(model, tokenizer) ->
EvalResult``, given as ``module:attr`` or passed to the API directly.
"""

from __future__ import annotations

from mixopt.evaluators._base import EvalResult, EvaluationError, Evaluator, check_result
from mixopt.evaluators.exact_match import ExactMatchTask, normalize_answer
from mixopt.evaluators.lm_eval import LmEvalTask
from mixopt.evaluators.loss import LossTask
from mixopt.evaluators.multiple_choice import MultipleChoiceTask
from mixopt.evaluators.sql_execution import SqlExecutionTask, run_query
from mixopt.evaluators.suite import EvalSuite, NamedTask
from mixopt.evaluators.tasks import EVALUATORS, load_suite, make_evaluator

__all__ = [
    "EVALUATORS",
    "EvalResult",
    "EvalSuite",
    "EvaluationError",
    "Evaluator",
    "ExactMatchTask",
    "LmEvalTask",
    "LossTask",
    "MultipleChoiceTask",
    "NamedTask",
    "SqlExecutionTask",
    "check_result",
    "load_suite",
    "make_evaluator",
    "normalize_answer",
    "run_query",
]
