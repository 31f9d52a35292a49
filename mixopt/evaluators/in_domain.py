"""``in_domain``: retention, scored on held-out records of the training domains themselves.

``mixopt search ... --in-domain`` carves a fixed sample of each domain's records off before
tokenization (:mod:`mixopt.data.carve`; never in any trial's pool) and adds the task
``in_domain`` to the evaluator's suite as one more objective: per domain, minus the mean token
loss on its held-out records (metric ``in_domain/<domain>/loss``), averaged over the domains
(the task's score). With a task file of one score the study becomes 2-objective (that score's
task and ``in_domain``); with objectives, ``in_domain`` is appended to them. What it costs:
one forward pass over the held-out records (at most 128 per domain) per trial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from mixopt.errors import ConfigError
from mixopt.evaluators._base import EvalResult, EvaluationError

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite

__all__ = [
    "IN_DOMAIN",
    "InDomainLoss",
    "first_line",
    "held_by",
    "held_out_counts",
    "unseen",
    "with_in_domain",
]

IN_DOMAIN = "in_domain"
"""The task's name (its metrics' prefix and its objective's name)."""


@dataclass(frozen=True)
class InDomainLoss:
    """Minus the mean over domains of each domain's mean token loss on its held-out records
    (the tokens that carry training loss: all of a text record, a completion's)."""

    score_scale: ClassVar[str] = "negative loss"  # see EvalSuite: scales are never mixed silently

    held: tuple[TokenizedDomain, ...] = ()
    """Each domain's held-out records (:func:`mixopt.data.tokenize.held_out_of`)."""
    max_length: int = 2048
    """Longer records are cut to their first ``max_length`` tokens."""
    batch_size: int = 16

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        from mixopt.evaluators._lm import token_loss

        if not self.held:
            raise EvaluationError(
                f"{IN_DOMAIN} has no held-out records: a study carves them (mixopt search --in-domain)"
            )
        metrics: dict[str, float] = {}
        losses = []
        for d in self.held:
            loss, count = token_loss(model, d.table(), self.max_length, self.batch_size)
            losses.append(loss)
            metrics.update(
                {
                    f"{d.name}/loss": loss,
                    f"{d.name}/tokens": float(count),
                    f"{d.name}/records": float(d.num_records),
                }
            )
        loss = math.fsum(losses) / len(losses)
        return EvalResult(-loss, {"loss": loss, **metrics})


def with_in_domain(suite: EvalSuite, held: Sequence[TokenizedDomain] = ()) -> EvalSuite:
    """``suite`` with the ``in_domain`` task as one more objective: after the suite's objectives,
    or beside its one scored task (whose weight, with nothing to weigh against, is dropped).
    Refused: a task already named ``in_domain``, and a score that combines several weighted
    tasks (name the objectives instead)."""
    from mixopt.evaluators.suite import NamedTask

    names = [t.name for t in suite.tasks]
    if IN_DOMAIN in names:
        raise ConfigError(
            f"--in-domain adds a task named {IN_DOMAIN!r}, and the task file has one: rename it"
        )
    task = NamedTask(IN_DOMAIN, InDomainLoss(tuple(held)))
    if suite.objectives:
        return replace(suite, tasks=(*suite.tasks, task), objectives=(*suite.objectives, IN_DOMAIN))
    scored = [t for t in suite.tasks if t.share > 0]
    if len(scored) > 1:
        raise ConfigError(
            f"--in-domain makes the score one objective beside {IN_DOMAIN}, and the task file combines "
            f"{len(scored)} weighted tasks ({', '.join(t.name for t in scored)}) into it: "
            "name the objectives ('objectives:' or --objective)"
        )
    one = scored[0].name
    tasks = tuple(replace(t, weight=None) if t.name == one else t for t in suite.tasks)
    return replace(suite, tasks=(*tasks, task), objectives=(one, IN_DOMAIN))


def held_out_counts(suite: EvalSuite) -> dict[str, int]:
    """The records the ``in_domain`` task scores, by domain (none without it)."""
    held = next(
        (t.evaluator.held for t in suite.tasks if isinstance(t.evaluator, InDomainLoss)), ()
    )
    return {d.name: d.num_records for d in held}


def first_line(suite: EvalSuite) -> str | None:
    """What a study with ``in_domain`` says first: what is held out, and what it costs."""
    held = held_out_counts(suite)
    if not held:
        return None
    return (
        f"{IN_DOMAIN}: {sum(held.values())} records held out of {len(held)} domains and never trained on "
        f"(objectives: {', '.join(suite.objectives)}); each trial adds one forward pass over them"
    )


def held_by(suite: EvalSuite, held: Sequence[TokenizedDomain]) -> EvalSuite:
    """``suite`` with its ``in_domain`` task scoring ``held``."""
    tasks = tuple(
        replace(t, evaluator=replace(t.evaluator, held=tuple(held)))
        if isinstance(t.evaluator, InDomainLoss)
        else t
        for t in suite.tasks
    )
    return replace(suite, tasks=tasks)


def unseen(
    held: Sequence[TokenizedDomain], pools: Sequence[TokenizedDomain]
) -> tuple[tuple[TokenizedDomain, ...], list[str]]:
    """Each domain's held-out records less those whose text is also in a pool (a record
    repeated within its domain, or shared with another): what ``in_domain`` measures must
    never have been trained on. With a problem, one line each, for a domain left with none."""
    import numpy as np

    from mixopt.evaluators.overlap import held_out_items

    seen = (
        np.unique(np.concatenate([p.text_hashes() for p in pools]))
        if pools
        else np.array([], dtype=np.int64)
    )
    out, problems = [], []
    for d in held:
        items = held_out_items(d)
        keep = np.flatnonzero(~np.isin(items, seen))
        if not len(keep):
            problems.append(
                f"{IN_DOMAIN}: every record held out of domain {d.name!r} also appears in training data "
                "(duplicated records); remove the duplicates"
            )
            continue
        lengths = np.asarray(d.table().column("length").to_numpy(), dtype=np.int64)
        out.append(
            replace(
                d,
                rows=keep.astype(np.int64),
                num_records=len(keep),
                num_tokens=int(lengths[keep].sum()),
                _table=[],
            )
        )
    return tuple(out), problems
