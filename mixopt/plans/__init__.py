"""Trial plans: how a trial runs and what its score is (the :class:`TrialPlan` protocol).

``one-pass`` trains once on the mixture and scores the model with the study's evaluator;
``leave-one-out`` trains once per domain left out and scores each training on that domain.
A study chooses its plan with ``--plan`` (``plan=``): ``auto``, the default, is one-pass
with an evaluator (``--eval``) and leave-one-out without one. Your own plan: ``--plan
my_package.plans:MyPlan``, or publish it under the ``mixopt.plans`` entry-point group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mixopt.errors import ConfigError
from mixopt.plans._base import OnCheckpoint, TrialPlan, TrialResult, TrialSpec
from mixopt.plans.leave_one_out import HELDOUT_RECORDS, HeldOutLoss, LeaveOneOut
from mixopt.plans.one_pass import OnePass
from mixopt.registry import Registry

__all__ = [
    "AUTO",
    "HELDOUT_RECORDS",
    "PLANS",
    "WITHOUT_EVALUATOR",
    "WITH_EVALUATOR",
    "HeldOutLoss",
    "LeaveOneOut",
    "OnCheckpoint",
    "OnePass",
    "TrialPlan",
    "TrialResult",
    "TrialSpec",
    "chosen_plan",
    "cost_line",
    "estimate_of",
    "make_plan",
    "no_target_line",
    "not_an_evaluator",
]

PLANS: Registry[TrialPlan] = Registry(
    "trial plan", "mixopt.plans", {p.name: p for p in (OnePass, LeaveOneOut)}
)
AUTO = "auto"
"""The default ``--plan``: :data:`WITH_EVALUATOR` with an evaluator, else :data:`WITHOUT_EVALUATOR`."""
WITH_EVALUATOR = OnePass.name
WITHOUT_EVALUATOR = LeaveOneOut.name  # no out-of-domain set: the domains' own records score


def estimate_of(plan: Any) -> str | None:
    """What a trial's score under ``plan`` estimates when it is not the user's target (a
    phrase every statement of a lift carries), or None: the plan's ``estimate`` attribute,
    optional in the protocol."""
    said = getattr(plan, "estimate", None)
    return said if isinstance(said, str) and said else None


def no_target_line(plan: Any) -> str | None:
    """What a study whose score is not measured on the user's target says first: what every
    lift will be, and the smallest out-of-domain set that measures the target instead (None
    for a plan scored by the evaluator)."""
    estimate = estimate_of(plan)
    if estimate is None:
        return None
    return (
        f"no out-of-domain set: every lift will be {estimate}; to measure your target, give "
        "--eval target.jsonl (a JSONL of its text, scored by its loss, as the task file "
        "'tasks: [{name: target, kind: loss, data: target.jsonl}]'; accuracy tasks: downstream/)"
    )


def chosen_plan(name: str, evaluator: bool) -> str:
    """The plan ``--plan name`` runs, ``auto`` resolved by whether an evaluator is given."""
    if name != AUTO:
        return name
    return WITH_EVALUATOR if evaluator else WITHOUT_EVALUATOR


def make_plan(name: str, evaluator: bool, rotating: Sequence[str] = ()) -> TrialPlan:
    """The plan ``name`` (a registered name, ``module:attr``, or ``auto``) for a study with an
    evaluator or without (``evaluator``); ``rotating`` (``--lodo-domains``): the domains a
    plan that leaves domains out in turn rotates. Raises one :class:`ConfigError` listing
    every problem: an unknown name, an evaluator the plan needs or takes none of, and
    rotating domains for a plan that leaves none out."""
    chosen = chosen_plan(name, evaluator)
    factory: Any = PLANS.get(chosen)
    problems = []
    built = isinstance(factory, TrialPlan) and not isinstance(factory, type)
    rotates = not built and any(f.name == "domains" for f in _fields(factory))
    if rotating and not rotates:
        problems.append(
            f"lodo_domains (--lodo-domains) applies only to a plan that leaves domains out in turn "
            f"(--plan {WITHOUT_EVALUATOR}, the default without --eval), not to {chosen}"
        )
    plan = (
        factory
        if built
        else factory(domains=tuple(rotating))
        if rotating and rotates
        else factory()
    )
    if not isinstance(plan, TrialPlan):
        raise ConfigError(
            f"trial plan {chosen!r} is not an object with name, takes_evaluator, "
            "intermediate_scores, run(spec, report), first_line(domains) and problems(domains, budget)"
        )
    if plan.takes_evaluator and not evaluator:
        problems.append(
            f"--plan {chosen} scores each trial with an evaluator: give --eval TASKS, or drop "
            f"--plan (without --eval a trial runs {WITHOUT_EVALUATOR})"
        )
    if not plan.takes_evaluator and evaluator:
        problems.append(
            f"--plan {chosen} scores on the domains' own records and takes no evaluator: drop "
            f"--eval, or drop --plan to score with it ({WITH_EVALUATOR})"
        )
    if problems:
        raise ConfigError(problems)
    return plan


def cost_line(
    plan: TrialPlan, domains: Sequence[str], trials: int
) -> tuple[str, dict[str, Any]] | None:
    """The plan's first line, with the study's total where a trial costs several trainings:
    ``...; 18 searched trials: 90 trainings, and 5 for each baseline and confirmation run``."""
    said = plan.first_line(domains)
    if said is None:
        return None
    line, fields = said
    each = fields.get("trainings")
    if isinstance(each, int) and not isinstance(each, bool) and each > 1:
        line += (
            f"; {trials} searched trial{'s' * (trials != 1)}: {trials * each:,} trainings, "
            f"and {each} for each baseline and confirmation run"
        )
    return line, fields


def not_an_evaluator(ref: Any) -> str | None:
    """The line refusing an evaluator reference that names a trial plan (``--eval
    leave-one-out``), or None."""
    if not isinstance(ref, str) or ":" in ref or ref not in PLANS.names():
        return None
    if ref == WITHOUT_EVALUATOR:
        how = f"drop --eval (it is the default without one) or give --plan {ref}"
    elif getattr(PLANS.get(ref), "takes_evaluator", True):
        how = f"give --plan {ref}, and a task file as --eval"
    else:
        how = f"drop --eval and give --plan {ref}"
    return f"{ref!r} is a trial plan, not an evaluator: {how}"


def _fields(factory: Any) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(factory) if dataclasses.is_dataclass(factory) else ()
