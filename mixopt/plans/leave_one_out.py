"""``leave-one-out``: an out-of-domain estimate from the training domains alone.

For a proposed mixture, each of k rotating domains in turn is left out: its share is spread
over the other domains in proportion to theirs (the budget stays exact, the caps and bounds
hold: :func:`mixopt.data.allocation.scaled_mixture`), a LoRA is trained on that, and the
left-out domain's loss is measured on a fixed held-out sample of its records. It was not in
that training, so every record of it is unseen, as an out-of-domain set would be. The
trial's score is the mean over the k of minus the loss (higher is better); each loss is kept
as the metric ``lodo/<domain>/loss``.

What it costs: k trainings per trial (k = the rotating domains, all of them by default;
``--lodo-domains`` chooses fewer). There is no intermediate score: the k trainings are k
curves, none of which is the trial's, so early stopping is off.

Its three choices are methods a variant overrides alone: which domains rotate
(:meth:`LeaveOneOut.rotating`), the mixture trained without a domain
(:meth:`LeaveOneOut.without`), and how the k losses make the score (:meth:`LeaveOneOut.score`).
Two of them have a measured alternative as a field: ``aggregate="worst"`` (the worst
left-out loss, not the mean) and ``share="nearest"`` (the left-out share moved whole to the
nearest remaining domain, not spread). Neither ranked mixtures for real unseen targets better
than the default (``benchmarks/README.md``, *Without an out-of-domain set*), and no variant
ranked them better than chance there: the score is an estimate (:data:`ESTIMATE`), said
wherever a lift is shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from mixopt.budget import format_budget
from mixopt.errors import InfeasibleMixtureError, did_you_mean
from mixopt.evaluators._base import EvalResult
from mixopt.plans._base import OnCheckpoint, TrialResult, TrialSpec

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite
    from mixopt.plans._pass import Setup

__all__ = ["HELDOUT_RECORDS", "HeldOutLoss", "LeaveOneOut", "nearest_domain"]

# Records of the left-out domain its loss is measured on: the same records in every trial and
# seed, so two mixtures are compared on the same text and the sample's own error (it shrinks
# as 1/sqrt(records)) is shared by both instead of adding to their difference; 128 records
# cost a forward pass over at most 128 x seq_len tokens, a small part of a training pass
# (a 50k-token training is about 3 x 50k token-passes), and fewer would let a few odd records
# decide a domain's loss. A domain with fewer records is measured on all of them.
HELDOUT_RECORDS = 128
_SAMPLE_SEED = (
    0x6C6F646F  # "lodo": apart from every trial seed, so no trial's seed moves the sample
)
# what its score is, said wherever a lift is shown: the verdict is about this estimate only
ESTIMATE = "estimated on left-out training domains, not on your target"
_TIMINGS = ("data_s", "load_s", "train_s", "eval_s", "wait_s")


@dataclass(frozen=True)
class LeaveOneOut:
    """Leave each domain out in turn: k trainings per trial, each on the mixture without one
    domain and scored by minus that domain's loss; the default without --eval (--lodo-domains
    A,B rotates fewer)."""

    name: ClassVar[str] = "leave-one-out"
    takes_evaluator: ClassVar[bool] = False
    intermediate_scores: ClassVar[bool] = False  # k curves, none the trial's: see the module
    estimate: ClassVar[str | None] = ESTIMATE

    domains: tuple[str, ...] = ()
    """The rotating domains, each left out in turn; empty: every domain."""
    records: int = HELDOUT_RECORDS
    """Records of the left-out domain its loss is measured on."""
    aggregate: Literal["mean", "worst"] = "mean"
    """How the k losses make the score: their mean, or the worst one (the mixture whose worst
    left-out domain is best, as group-robust training chooses)."""
    share: Literal["spread", "nearest"] = "spread"
    """Where the left-out domain's share goes: spread over the others in proportion to theirs,
    or all of it to the remaining domain nearest the left-out one (:func:`nearest_domain`)."""

    def rotating(self, names: Sequence[str]) -> tuple[str, ...]:
        """The domains left out in turn, in the domains' order."""
        return tuple(n for n in names if not self.domains or n in self.domains)

    def score(self, losses: Mapping[str, float]) -> float:
        """The trial's score from each left-out domain's loss: minus their mean, or minus the
        worst (largest) of them."""
        if self.aggregate == "worst":
            return -max(losses.values())
        return sum(-loss for loss in losses.values()) / len(losses)

    def first_line(self, domains: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """What it estimates and what that costs; the event names the rotating domains and
        the trainings a trial costs (``trainings``: the study states the total from it)."""
        rotating = self.rotating(domains)
        k = len(rotating)
        return (
            f"{self.name} over {k} domains: each trial trains {k} times (one per left-out domain, "
            f"scored by minus its loss on {self.records} of its records); early stopping is off",
            {"domains": list(rotating), "trainings": k},
        )

    def problems(self, domains: Sequence[TokenizedDomain], budget: int | None) -> list[str]:
        """Why it cannot run on these domains at this budget, one line each: fewer than two
        domains, an unknown rotating domain, or one without which the others cannot fill the
        budget (named with the largest budget that fits)."""
        names = [d.name for d in domains]
        if len(names) < 2:
            return [
                f"{self.name} needs at least 2 domains (it trains on the others while one is left out); "
                f"got {len(names)}: give an out-of-domain task file with --eval"
            ]
        unknown = [
            f"--lodo-domains names unknown domain {n!r}.{did_you_mean(n, names)}"
            for n in self.domains
            if n not in names
        ]
        if unknown or budget is None:
            return unknown
        out = []
        for held in self.rotating(names):
            rest = [d for d in domains if d.name != held]
            if _fits(rest, budget):
                continue
            largest = _largest_budget(rest, budget)
            fits = (
                f"the largest budget that fits is {format_budget(largest)} (--budget {largest})"
                if largest
                else "no budget fits their share bounds"
            )
            out.append(
                f"{self.name}: without domain {held!r} the other domains cannot fill budget "
                f"{format_budget(budget)} within their caps and bounds; {fits}, or leave {held!r} "
                f"out of --lodo-domains"
            )
        return out

    def without(
        self,
        held: str,
        mixture: Mapping[str, float],
        domains: Sequence[TokenizedDomain],
        budget: int,
    ) -> tuple[tuple[TokenizedDomain, ...], dict[str, float]]:
        """The domains without ``held``, and the mixture with ``held``'s share spread over them
        in proportion to theirs (equally where they had none), or moved whole to the nearest
        of them (``share="nearest"``), made feasible at ``budget``."""
        from mixopt.data.allocation import scaled_mixture

        rest = tuple(d for d in domains if d.name != held)
        weights = [max(float(mixture.get(d.name, 0.0)), 0.0) for d in rest]
        if self.share == "nearest":
            left = next(d for d in domains if d.name == held)
            near = nearest_domain(left, rest)
            moved = max(float(mixture.get(held, 0.0)), 0.0)
            weights = [
                w + (moved if d.name == near else 0.0) for d, w in zip(rest, weights, strict=True)
            ]
        return rest, scaled_mixture(
            rest, weights if math.fsum(weights) > 0 else [1.0] * len(rest), budget
        )

    def run(self, spec: TrialSpec, report: OnCheckpoint | None = None) -> TrialResult:
        """A training per rotating domain, each freed before the next; ``report`` is never
        called (no intermediate scores)."""
        from mixopt.plans._pass import setup

        ready = setup(spec)
        done = {
            held: self._pass(spec, ready, held)
            for held in self.rotating([d.name for d in ready.domains])
        }
        return self._result(ready, done)

    def suite(self, domain: TokenizedDomain, max_length: int) -> EvalSuite:
        """What scores the pass that leaves ``domain`` out: its loss, as ``lodo/<domain>``."""
        from mixopt.evaluators.suite import EvalSuite, NamedTask

        return EvalSuite(
            (NamedTask(f"lodo/{domain.name}", HeldOutLoss(domain, self.records, max_length)),)
        )

    def _pass(self, spec: TrialSpec, ready: Setup, held: str) -> tuple[dict[str, Any], Any]:
        """The pass that leaves ``held`` out: its record in ``passes``, and its training's
        result (curve, steps, tokens)."""
        from mixopt.data.sampling import sample_mixture
        from mixopt.plans._pass import pad_id, train_pass

        t0 = time.perf_counter()
        rest, mixture = self.without(held, spec.mixture, ready.domains, spec.budget)
        sample = sample_mixture(rest, mixture, spec.budget, spec.seed)
        packed = sample.pack(spec.train.seq_len, pad_id(ready.tokenizer))
        data_s = time.perf_counter() - t0
        # its whole records, not the filtered ones
        left_out = next(d for d in spec.domains if d.name == held)
        suite = self.suite(left_out, spec.train.seq_len)
        run = train_pass(spec, suite, ready.tokenizer, packed, None)
        done = {
            "mixture": mixture,
            "domains": sample.summary(),
            "loss": run.final.metrics[f"lodo/{held}/loss"],
            "steps": run.trained.steps,
            "timings": {**run.timings(), "data_s": data_s, "total_s": time.perf_counter() - t0},
        }
        return done, run.trained

    def _result(self, ready: Setup, done: Mapping[str, tuple[dict[str, Any], Any]]) -> TrialResult:
        """The trial's result: its passes' trainings one after another, its score from their
        losses (one metric per domain: its score is -loss, its record count fixed)."""
        passes = {held: p for held, (p, _) in done.items()}
        totals = {k: sum(p["timings"][k] for p in passes.values()) for k in _TIMINGS}
        curve: list[tuple[int, float]] = []
        steps = 0
        for _, trained in done.values():
            curve += [(steps + s, v) for s, v in trained.loss_curve]
            steps += trained.steps
        summed: dict[str, dict[str, float]] = {
            d.name: {"tokens": 0, "records": 0, "epochs": 0.0} for d in ready.domains
        }
        for p in passes.values():
            for name, d in p["domains"].items():
                summed[name] = {k: summed[name][k] + v for k, v in d.items()}
        losses = {held: float(p["loss"]) for held, p in passes.items()}
        return TrialResult(
            score=self.score(losses),
            metrics={f"lodo/{held}/loss": loss for held, loss in losses.items()},
            intermediate=(),
            loss_curve=tuple(curve),
            domains=summed,
            timings={**totals, "total_s": time.perf_counter() - ready.start},
            steps=steps,
            total_steps=sum(t.total_steps for _, t in done.values()),
            stopped_early=False,
            tokens_per_second=sum(t.tokens for _, t in done.values())
            / max(1e-9, totals["train_s"]),
            passes=passes,
            **ready.common,
        )


@dataclass(frozen=True)
class HeldOutLoss:
    """Mean token loss of a model on a fixed sample of a tokenized domain's records (the
    tokens that carry training loss: all of a text record, a completion's)."""

    domain: TokenizedDomain
    records: int = HELDOUT_RECORDS
    max_length: int = 2048
    """Longer records are cut to their first ``max_length`` tokens (what a training sequence holds)."""
    batch_size: int = 16

    def rows(self) -> Any:
        """The sample's record indices in the domain's whole cached table: fixed by the
        domain's name alone (not by any trial's seed, nor by a --target-budget cut)."""
        import numpy as np

        from mixopt.data.carve import named_order

        n = (
            self.domain.num_records
            if self.domain.rows is None
            else int(self._whole().table().num_rows)
        )
        return np.sort(named_order(_SAMPLE_SEED, self.domain.name, n)[: self.records])

    def _whole(self) -> TokenizedDomain:
        return (
            self.domain if self.domain.rows is None else replace(self.domain, rows=None, _table=[])
        )

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        import pyarrow as pa

        from mixopt.evaluators._lm import token_loss

        table = self._whole().table().take(pa.array(self.rows()))
        loss, count = token_loss(model, table, self.max_length, self.batch_size)
        return EvalResult(
            -loss, {"loss": loss, "tokens": float(count), "records": float(table.num_rows)}
        )


def nearest_domain(domain: TokenizedDomain, others: Sequence[TokenizedDomain]) -> str:
    """The name of the domain in ``others`` whose token distribution is nearest ``domain``'s:
    the smallest Jensen-Shannon divergence between their unigram token frequencies (every
    token of every record; ties go to the first)."""
    import numpy as np

    counts = [_token_counts(d) for d in (domain, *others)]
    size = max(len(c) for c in counts)
    p, *qs = (np.pad(c, (0, size - len(c))) / max(1, c.sum()) for c in counts)
    return others[int(np.argmin([_js_divergence(p, q) for q in qs]))].name


def _token_counts(domain: TokenizedDomain) -> Any:
    import numpy as np
    import pyarrow.compute as pc

    ids = pc.list_flatten(domain.table().column("input_ids")).to_numpy()
    return np.bincount(ids.astype(np.int64))


def _js_divergence(p: Any, q: Any) -> float:
    import numpy as np

    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = [np.where(a > 0, a * np.log(a / m), 0.0).sum() for a in (p, q)]
    return float(sum(kl) / 2)


def _fits(domains: Sequence[TokenizedDomain], budget: int) -> bool:
    from mixopt.data.allocation import check_budget, uniform_mixture

    try:
        check_budget(domains, budget)
        uniform_mixture(domains, budget)
    except InfeasibleMixtureError:
        return False
    return True


def _largest_budget(domains: Sequence[TokenizedDomain], budget: int) -> int:
    """The largest budget below ``budget`` that ``domains`` can fill (0: none)."""
    low, high = 0, budget  # budget does not fit; filling is monotone past the smallest budgets
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _fits(domains, mid) else (low, mid)
    return low
