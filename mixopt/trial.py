"""One trial: sample a mixture, LoRA fine-tune on it, score it.

Its inputs are small and picklable (a Ray Tune trial receives them): the tokenized domains
travel as paths to their cached tokens, the model as its reference, the evaluator as a
suite of dataclasses. How the trial runs is its plan's (:mod:`mixopt.plans`): one pass, a
training scored by the evaluator, or leave-one-out's k trainings, one per left-out domain.
The model is rebuilt in every training, so nothing leaks from one to the next, and freed
before the next starts.
"""

from __future__ import annotations

from mixopt.plans._base import OnCheckpoint, TrialResult, TrialSpec

__all__ = ["OnCheckpoint", "TrialResult", "TrialSpec", "run_trial"]


def run_trial(spec: TrialSpec, report: OnCheckpoint | None = None) -> TrialResult:
    """Run one trial as its plan runs it; ``report`` receives the intermediate scores (and
    may stop the trial)."""
    return spec.plan.run(spec, report)
