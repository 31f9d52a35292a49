"""One trial: sample a mixture, LoRA fine-tune on it, score it out of domain.

Its inputs are small and picklable (a Ray Tune trial receives them): the tokenized domains
travel as paths to their cached tokens, the model as its reference, the evaluator as a
suite of dataclasses or a ``module:attr`` reference. The model is rebuilt in every trial,
so nothing leaks from one trial to the next, and freed when the trial returns. With the
leave-one-out estimate (:mod:`mixopt.evaluators.leave_one_out`) a trial is k such
trainings, one per left-out domain, each freed before the next.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mixopt.data.tokenize import TokenizedDomain
from mixopt.evaluators.leave_one_out import LeaveOneOut, is_leave_one_out
from mixopt.training.config import TrainConfig

__all__ = ["Report", "TrialResult", "TrialSpec", "run_trial"]

# Called at each checkpoint with (step, total steps, intermediate score or None);
# returning False stops the trial there (early stopping).
Report = Callable[[int, int, "float | None"], "bool | None"]


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
    evaluator: Any
    """An ``EvalSuite``, a task file path, a ``module:attr`` reference or an evaluator object."""
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
    """Leave-one-out only, per left-out domain: the mixture trained without it, that training
    set's per-domain tokens, records and epochs, its loss, steps and timings."""


def run_trial(spec: TrialSpec, report: Report | None = None) -> TrialResult:
    """Run one trial; ``report`` receives the intermediate scores (and may stop the trial)."""
    from transformers import set_seed

    from mixopt.data.filtering import filter_domains
    from mixopt.data.sampling import sample_mixture
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.models import load_tokenizer
    from mixopt.training.device import set_threads

    start = time.perf_counter()
    set_threads(spec.train)
    set_seed(spec.seed)
    lodo = (
        spec.evaluator
        if isinstance(spec.evaluator, LeaveOneOut)
        else LeaveOneOut()
        if is_leave_one_out(spec.evaluator)
        else None
    )
    suite = None if lodo is not None else make_evaluator(spec.evaluator)
    tokenizer = load_tokenizer(spec.model)
    domains = filter_domains(spec.domains, spec.scores, spec.filters)
    kept = {
        d.name: {
            "records": d.num_records,
            "tokens": d.num_tokens,
            "of_records": o.num_records,
            "of_tokens": o.num_tokens,
        }
        for d, o in zip(domains, spec.domains, strict=True)
        if d is not o
    }
    common: dict[str, Any] = {
        "mixture": dict(spec.mixture),
        "seed": spec.seed,
        "filters": dict(spec.filters),
        "kept": kept,
    }
    if lodo is not None:
        return _leave_one_out(spec, lodo, tokenizer, domains, start, common)
    assert suite is not None
    sample = sample_mixture(domains, spec.mixture, spec.budget, spec.seed)
    packed = sample.pack(spec.train.seq_len, _pad_id(tokenizer))
    data_s = time.perf_counter() - start
    run = _freed(spec, suite, tokenizer, packed, report)
    trained, final = run.trained, run.final
    return TrialResult(
        score=None if final is None else float(final.score),
        metrics={} if final is None else dict(final.metrics),
        intermediate=tuple(run.intermediate),
        loss_curve=trained.loss_curve,
        domains=sample.summary(),
        timings={**run.timings(), "data_s": data_s, "total_s": time.perf_counter() - start},
        steps=trained.steps,
        total_steps=trained.total_steps,
        stopped_early=trained.stopped_early,
        tokens_per_second=trained.tokens / max(1e-9, run.train_s),
        **common,
    )


def _leave_one_out(
    spec: TrialSpec,
    lodo: LeaveOneOut,
    tokenizer: Any,
    domains: Any,
    start: float,
    common: dict[str, Any],
) -> TrialResult:
    """One trial of the leave-one-out estimate: a training per left-out domain, on the mixture
    without it; the score is the mean of minus each left-out domain's loss. No intermediate
    scores (early stopping is off): each pass trains to its end."""
    from mixopt.data.sampling import sample_mixture

    passes: dict[str, dict[str, Any]] = {}
    metrics: dict[str, float] = {}
    curve: list[tuple[int, float]] = []
    totals = {"data_s": 0.0, "load_s": 0.0, "train_s": 0.0, "eval_s": 0.0, "wait_s": 0.0}
    summed: dict[str, dict[str, float]] = {
        d.name: {"tokens": 0, "records": 0, "epochs": 0.0} for d in domains
    }
    steps = total_steps = tokens = 0
    for held in lodo.rotating([d.name for d in domains]):
        t0 = time.perf_counter()
        rest, mixture = lodo.without(held, spec.mixture, domains, spec.budget)
        sample = sample_mixture(rest, mixture, spec.budget, spec.seed)
        packed = sample.pack(spec.train.seq_len, _pad_id(tokenizer))
        data_s = time.perf_counter() - t0
        # its whole records, not the filtered ones
        left_out = next(d for d in spec.domains if d.name == held)
        run = _freed(spec, lodo.suite(left_out, spec.train.seq_len), tokenizer, packed, None)
        trained, final = run.trained, run.final
        loss = final.metrics[f"lodo/{held}/loss"]
        metrics[f"lodo/{held}/loss"] = (
            loss  # one column per domain (its score is -loss, its record count fixed)
        )
        timings = {**run.timings(), "data_s": data_s, "total_s": time.perf_counter() - t0}
        for k in totals:
            totals[k] += timings[k]
        curve += [(steps + s, v) for s, v in trained.loss_curve]
        steps, total_steps, tokens = (
            steps + trained.steps,
            total_steps + trained.total_steps,
            tokens + trained.tokens,
        )
        for name, d in sample.summary().items():
            summed[name] = {k: summed[name][k] + v for k, v in d.items()}
        passes[held] = {
            "mixture": mixture,
            "domains": sample.summary(),
            "loss": loss,
            "steps": trained.steps,
            "timings": timings,
        }
    score = sum(-p["loss"] for p in passes.values()) / len(passes)
    return TrialResult(
        score=score,
        metrics=metrics,
        intermediate=(),
        loss_curve=tuple(curve),
        domains={n: d for n, d in summed.items()},
        timings={**totals, "total_s": time.perf_counter() - start},
        steps=steps,
        total_steps=total_steps,
        stopped_early=False,
        tokens_per_second=tokens / max(1e-9, totals["train_s"]),
        passes=passes,
        **common,
    )


def _pad_id(tokenizer: Any) -> int:
    return int(
        tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else (tokenizer.eos_token_id or 0)
    )


def _freed(spec: TrialSpec, suite: Any, tokenizer: Any, packed: Any, report: Report | None) -> _Run:
    """:func:`_train_and_evaluate`, its model freed (on the GPU too) before it returns."""
    import torch

    try:
        return _train_and_evaluate(spec, suite, tokenizer, packed, report)
    finally:
        gc.collect()  # the model is unreachable once _train_and_evaluate returns; free it now
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@dataclass
class _Run:
    trained: Any
    final: Any
    intermediate: list[tuple[int, float]]
    load_s: float
    probe_s: float
    final_eval_s: float
    wait_s: float = 0.0

    @property
    def train_s(self) -> float:
        """The training loop's seconds, less scoring and waiting at its checkpoints."""
        return float(self.trained.seconds) - self.probe_s - self.wait_s

    def timings(self) -> dict[str, float]:
        """Seconds loading the model, training, evaluating (at the checkpoints and at the end)
        and waiting at the checkpoints for the executor's go-ahead (Ray Tune's round trip)."""
        return {
            "load_s": self.load_s,
            "train_s": self.train_s,
            "eval_s": self.final_eval_s + self.probe_s,
            "wait_s": self.wait_s,
        }


def _train_and_evaluate(
    spec: TrialSpec, suite: Any, tokenizer: Any, packed: Any, report: Report | None
) -> _Run:
    """Load the model, add LoRA, train with checkpoints, evaluate. The model dies with this frame."""
    from mixopt.evaluators.suite import run_task
    from mixopt.models import load_model
    from mixopt.training import add_lora, finetune
    from mixopt.training.device import autocast_dtype, resolve_device

    t0 = time.perf_counter()
    device = resolve_device(spec.train)
    # CPU weights stay fp32
    dtype = autocast_dtype(spec.train, device) if device.type == "cuda" else None
    model = add_lora(load_model(spec.model, device, dtype, spec.allow_pickle), spec.train)
    run = _Run(None, None, [], time.perf_counter() - t0, 0.0, 0.0)
    probe = suite.intermediate_evaluator()

    def on_checkpoint(step: int, total: int) -> bool | None:
        score = None
        if probe is not None:
            t = time.perf_counter()
            score = run_task(probe, model, tokenizer).score
            run.probe_s += time.perf_counter() - t
            run.intermediate.append((step, score))
        if report is None:
            return None
        t = time.perf_counter()
        go_on = report(step, total, score)
        run.wait_s += time.perf_counter() - t
        return go_on

    run.trained = finetune(
        model, packed, spec.train, device, on_checkpoint if probe or report else None
    )
    t1 = time.perf_counter()
    run.final = None if run.trained.stopped_early else suite.evaluate(model, tokenizer)
    run.final_eval_s = time.perf_counter() - t1
    return run
