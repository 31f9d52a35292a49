"""The trial plan interface: how a trial runs and what its score is, and the values a plan
takes and returns (:class:`TrialSpec`, :class:`TrialResult`, :data:`OnCheckpoint`).

The plan of a trial is apart from its evaluator: the evaluator scores a trained model
(``evaluate(model, tokenizer)``), the plan decides which models a trial trains and how their
scores make the trial's. One pass trains once on the mixture and scores that model with the
evaluator; leave-one-out trains once per domain left out and scores each on that domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from mixopt.training.config import TrainConfig

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite

__all__ = ["OnCheckpoint", "TrialPlan", "TrialResult", "TrialSpec"]

# Called at each checkpoint with (step, total steps, intermediate score or None);
# returning False stops the trial there (early stopping).
OnCheckpoint = Callable[[int, int, "float | None"], "bool | None"]


@runtime_checkable
class TrialPlan(Protocol):
    """How a trial runs and what its score is. No base class needed: a small frozen dataclass
    with these attributes and methods (it is pickled to every trial with the trial's spec).

    What a study must know before its first trial, declared by the plan itself:

    - ``name``: what ``--plan`` calls it, and how messages name it;
    - ``takes_evaluator``: True if a trial is scored by the study's evaluator (``--eval``),
      which it then needs; False if the plan scores the trial itself, on the domains' own
      records, and takes none;
    - ``intermediate_scores``: True if its trials report the evaluator's ``intermediate``
      task at each checkpoint (so early stopping can apply); False: they never do;
    - ``estimate`` (optional; None where absent): None if a trial's score is the study's
      evaluator's, measured on the user's target; else what the score estimates instead, a
      phrase every statement of the study's lift carries (leave-one-out's: "estimated on
      left-out training domains, not on your target"). :func:`mixopt.plans.estimate_of`
      reads it.

    Check a plan with :func:`mixopt.testing.check_plan`.
    """

    name: ClassVar[str]
    takes_evaluator: ClassVar[bool]
    intermediate_scores: ClassVar[bool]

    def run(self, spec: TrialSpec, report: OnCheckpoint | None = None) -> TrialResult:
        """Run one trial of ``spec`` (its mixture, budget, seed, evaluator); ``report``
        receives the intermediate scores, if the plan has any, and may stop the trial."""
        ...

    def first_line(self, domains: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        """What a study says first about its trials over ``domains`` (their names, in order):
        one line on what a trial estimates and costs, and the fields of its ``trial_plan``
        event (JSON values; an int ``trainings``, the trainings one trial costs, makes the
        study state the total); None: nothing beyond what every trial costs."""
        ...

    def problems(self, domains: Sequence[TokenizedDomain], budget: int | None) -> list[str]:
        """Why it cannot run on these tokenized domains at ``budget`` (None: not checked),
        one line each; empty: it can. Asked before the first trial, and before a transfer
        check at another budget."""
        ...


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs."""

    model: str
    """Base model: a hub id or a local folder."""
    domains: tuple[TokenizedDomain, ...]
    """The tokenized training domains."""
    mixture: Mapping[str, float]
    """Share of the budget per domain."""
    budget: int
    """Training tokens."""
    evaluator: EvalSuite | None
    """What scores a trained model out of domain (:func:`mixopt.evaluators.make_evaluator`
    builds one from a task file or ``module:attr``); None for a plan that takes none."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """How to fine-tune."""
    seed: int = 0
    """Seeds the sample, the LoRA initialization and the training order."""
    allow_pickle: bool = False
    """Allow loading pickled (non-safetensors) weights."""
    filters: Mapping[str, float] = field(default_factory=dict)
    """Thresholds on per-record scores (:mod:`mixopt.data.filtering`); applied before sampling."""
    scores: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per domain and scorer, the cached per-record scores the filters read."""
    plan: TrialPlan = field(kw_only=True)
    """How the trial runs: one pass (``mixopt.plans.OnePass``), leave-one-out, or your own."""


@dataclass(frozen=True)
class TrialResult:
    """What a trial measured."""

    score: float | None
    """Out-of-domain score (higher is better); None when the trial was stopped early."""
    metrics: dict[str, float]
    """Per-task metrics of the final evaluation."""
    intermediate: tuple[tuple[int, float], ...]
    """(step, intermediate score) at each checkpoint."""
    loss_curve: tuple[tuple[int, float], ...]
    """(step, training loss)."""
    domains: dict[str, dict[str, float]]
    """Per-domain tokens, records and epochs of the training set."""
    timings: dict[str, float]
    """Seconds spent on data, model loading, training, evaluation, and in total."""
    steps: int
    total_steps: int
    stopped_early: bool
    tokens_per_second: float
    mixture: dict[str, float]
    seed: int
    filters: dict[str, float] = field(default_factory=dict)
    """The thresholds it trained with."""
    kept: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per filtered domain: the records and tokens its filters kept."""
    passes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """A plan of several trainings (leave-one-out), per training: the mixture it trained on,
    that training set's per-domain tokens, records and epochs, its loss, steps and timings."""
