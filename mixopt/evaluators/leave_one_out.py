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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from mixopt.budget import format_budget
from mixopt.errors import InfeasibleMixtureError, did_you_mean
from mixopt.evaluators._base import EvalResult

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite

__all__ = [
    "HELDOUT_RECORDS",
    "LEAVE_ONE_OUT",
    "HeldOutLoss",
    "LeaveOneOut",
    "is_leave_one_out",
    "token_loss",
]

LEAVE_ONE_OUT = "leave-one-out"
"""The evaluator reference (``--eval leave-one-out``) that selects it."""

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


def is_leave_one_out(ref: Any) -> bool:
    """Whether an evaluator reference selects leave-one-out."""
    return isinstance(ref, LeaveOneOut) or (isinstance(ref, str) and ref == LEAVE_ONE_OUT)


@dataclass(frozen=True)
class LeaveOneOut:
    """The leave-one-out estimate of a study (picklable; the trial does the work)."""

    domains: tuple[str, ...] = ()
    """The rotating domains, each left out in turn; empty: every domain."""
    records: int = HELDOUT_RECORDS
    """Records of the left-out domain its loss is measured on."""

    intermediate: ClassVar[None] = None
    """No intermediate score: early stopping is off (see the module's docstring)."""
    objectives: ClassVar[tuple[str, ...]] = ()
    """One score: several objectives are tasks a task file names."""
    multi_objective: ClassVar[bool] = False

    def rotating(self, names: Sequence[str]) -> tuple[str, ...]:
        """The domains left out in turn, in the domains' order."""
        return tuple(n for n in names if not self.domains or n in self.domains)

    def first_line(self, names: Sequence[str]) -> str:
        """What the study says first: what it estimates and what that costs."""
        k = len(self.rotating(names))
        return (
            f"leave-one-out over {k} domains: each trial trains {k} times (one per left-out domain, "
            f"scored by minus its loss on {self.records} of its records); early stopping is off"
        )

    def problems(self, domains: Sequence[TokenizedDomain], budget: int | None) -> list[str]:
        """Why it cannot run on these domains at this budget, one line each: fewer than two
        domains, an unknown rotating domain, or one without which the others cannot fill the
        budget (named with the largest budget that fits)."""
        names = [d.name for d in domains]
        if len(names) < 2:
            return [
                f"leave-one-out needs at least 2 domains (it trains on the others while one is left out); "
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
                f"leave-one-out: without domain {held!r} the other domains cannot fill budget "
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
        in proportion to theirs (equally where they had none), made feasible at ``budget``."""
        from mixopt.data.allocation import scaled_mixture

        rest = tuple(d for d in domains if d.name != held)
        weights = [max(float(mixture.get(d.name, 0.0)), 0.0) for d in rest]
        return rest, scaled_mixture(
            rest, weights if math.fsum(weights) > 0 else [1.0] * len(rest), budget
        )

    def suite(self, domain: TokenizedDomain, max_length: int) -> EvalSuite:
        """What scores the pass that leaves ``domain`` out: its loss, as ``lodo/<domain>``."""
        from mixopt.evaluators.suite import EvalSuite, NamedTask

        return EvalSuite(
            (NamedTask(f"lodo/{domain.name}", HeldOutLoss(domain, self.records, max_length)),)
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

        table = self._whole().table().take(pa.array(self.rows()))
        loss, count = token_loss(model, table, self.max_length, self.batch_size)
        return EvalResult(
            -loss, {"loss": loss, "tokens": float(count), "records": float(table.num_rows)}
        )


def token_loss(model: Any, table: Any, max_length: int, batch_size: int = 16) -> tuple[float, int]:
    """(mean loss, tokens scored) of a model over a token table's records (columns ``input_ids``
    and, for masked formats, ``loss_mask``), each cut to its first ``max_length`` tokens."""
    import torch

    from mixopt.evaluators._lm import model_device

    ids = [list(r)[:max_length] for r in table.column("input_ids").to_pylist()]
    masks = (
        [list(m)[:max_length] for m in table.column("loss_mask").to_pylist()]
        if "loss_mask" in table.column_names
        else [[1] * len(r) for r in ids]
    )
    device, total, count = model_device(model), 0.0, 0
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            x = torch.zeros((len(rows), width), dtype=torch.long)
            scored = torch.zeros((len(rows), width), dtype=torch.bool)
            for r, i in enumerate(rows):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                # the first token has no context
                scored[r, 1 : len(ids[i])] = torch.tensor(masks[i][1:], dtype=torch.bool)
            attn = (
                torch.arange(width)[None, :] < torch.tensor([len(ids[i]) for i in rows])[:, None]
            ).long()
            logits = model(input_ids=x.to(device), attention_mask=attn.to(device)).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            target = x[:, 1:].to(logprobs.device)
            picked = logprobs.gather(-1, target[..., None])[..., 0]
            keep = scored[:, 1:].to(logprobs.device)
            total -= float(picked[keep].sum())
            count += int(keep.sum())
    return total / max(1, count), count


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
