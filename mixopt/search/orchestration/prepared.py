"""A prepared study: every checked input a study runs on, held in one value (nothing written
yet). The session, the loop and the transfer check read it; it imports none of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mixopt.data.tokenize import TokenizedDomain
from mixopt.events import EventLog
from mixopt.search.executors.context import StudyContext
from mixopt.search.proposals.space import SearchSpace
from mixopt.study.record import StudyRecord
from mixopt.study.spec import StudySpec
from mixopt.study.store import StudyStore
from mixopt.study.warm import WarmStart

if TYPE_CHECKING:
    from mixopt.evaluators.suite import EvalSuite
    from mixopt.plans import TrialPlan
    from mixopt.trial import TrialSpec

__all__ = ["PreparedStudy"]


@dataclass(frozen=True)
class PreparedStudy:
    """A checked study, ready to run (nothing has been written yet): what
    :func:`~mixopt.search.orchestration.study.prepare_study` returns and every later step
    reads, each piece of it in one field."""

    spec: StudySpec
    """The spec, with the output folder and the domains file made absolute."""
    store: StudyStore
    context: StudyContext
    space: SearchSpace
    baselines: tuple[tuple[str, dict[str, float]], ...]
    record: StudyRecord
    """What ``study.json`` holds: the spec, and enough to resume."""
    resume: bool
    events: EventLog
    """Progress lines and the event log (also written to ``events.jsonl`` in the folder)."""
    warm: WarmStart = field(default_factory=WarmStart)
    """What the ``--warm-start`` studies give this one (read before anything is written)."""
    pools: tuple[TokenizedDomain, ...] = ()
    """The whole tokenized domains (the trials' are cut to ``--target-budget`` when it is
    set): what a transfer check trains on."""

    @property
    def trial(self) -> TrialSpec:
        """The study's trial: model, domains, budget, evaluator, plan, training settings."""
        return self.context.trial

    @property
    def plan(self) -> TrialPlan:
        """How each trial runs (one pass, or leave-one-out's k passes)."""
        return self.context.trial.plan

    @property
    def evaluator(self) -> EvalSuite | None:
        """The evaluator's tasks (None: the plan scores the trials)."""
        return self.context.trial.evaluator

    @property
    def objectives(self) -> tuple[str, ...]:
        """The evaluator's objectives (the task file's, or ``--objective``'s); empty: one score
        (as without an evaluator: the plan scores the trials)."""
        suite = self.context.trial.evaluator
        return () if suite is None else tuple(suite.objectives)

    @property
    def intermediate(self) -> str | None:
        """The evaluator's task scored at each checkpoint, where the plan reports it: what
        early stopping reads; None: the trials have no intermediate scores."""
        trial = self.context.trial
        if trial.evaluator is None or not trial.plan.intermediate_scores:
            return None
        return trial.evaluator.intermediate
