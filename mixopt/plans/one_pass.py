"""``one-pass``: train once on the mixture, score the model with the study's evaluator.

The trial samples exactly the budget from the domains by the mixture, trains a LoRA on it,
scores the evaluator's ``intermediate`` task at each checkpoint (what early stopping reads)
and the whole evaluator at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mixopt.errors import ConfigError
from mixopt.plans._base import OnCheckpoint, TrialResult, TrialSpec

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain

__all__ = ["OnePass"]


@dataclass(frozen=True)
class OnePass:
    """Train once on the mixture and score the model with the evaluator (--eval); the default
    with one."""

    name: ClassVar[str] = "one-pass"
    takes_evaluator: ClassVar[bool] = True
    intermediate_scores: ClassVar[bool] = True
    estimate: ClassVar[str | None] = None  # the evaluator's score, on the user's target

    def first_line(self, domains: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        return None  # one training per trial: nothing to say

    def problems(self, domains: Sequence[TokenizedDomain], budget: int | None) -> list[str]:
        return []  # the budget's own checks are every study's

    def run(self, spec: TrialSpec, report: OnCheckpoint | None = None) -> TrialResult:
        from mixopt.data.sampling import sample_mixture
        from mixopt.plans._pass import pad_id, setup, train_pass

        if spec.evaluator is None:
            raise ConfigError(
                f"the {self.name} plan scores with an evaluator, and the trial has none"
            )
        ready = setup(spec)
        sample = sample_mixture(ready.domains, spec.mixture, spec.budget, spec.seed)
        packed = sample.pack(spec.train.seq_len, pad_id(ready.tokenizer))
        data_s = time.perf_counter() - ready.start
        run = train_pass(spec, spec.evaluator, ready.tokenizer, packed, report)
        trained, final = run.trained, run.final
        return TrialResult(
            score=None if final is None else float(final.score),
            metrics={} if final is None else dict(final.metrics),
            intermediate=tuple(run.intermediate),
            loss_curve=trained.loss_curve,
            domains=sample.summary(),
            timings={
                **run.timings(),
                "data_s": data_s,
                "total_s": time.perf_counter() - ready.start,
            },
            steps=trained.steps,
            total_steps=trained.total_steps,
            stopped_early=trained.stopped_early,
            tokens_per_second=trained.tokens / max(1e-9, run.train_s),
            **ready.common,
        )
