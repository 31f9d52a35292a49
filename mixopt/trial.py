"""One trial: sample a mixture, LoRA fine-tune on it, score it out of domain.

Its inputs are small and picklable (a Ray Tune trial receives them): the tokenized domains
travel as paths to their cached tokens, the model as its reference, the evaluator as a
suite of dataclasses or a ``module:attr`` reference. The model is rebuilt in every trial,
so nothing leaks from one trial to the next, and freed when the trial returns.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mixopt.data.tokenize import TokenizedDomain
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


def run_trial(spec: TrialSpec, report: Report | None = None) -> TrialResult:
    """Run one trial; ``report`` receives the intermediate scores (and may stop the trial)."""
    import torch
    from transformers import set_seed

    from mixopt.data.filtering import filter_domains
    from mixopt.data.sampling import sample_mixture
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.models import load_tokenizer
    from mixopt.training.device import set_threads

    start = time.perf_counter()
    set_threads(spec.train)
    set_seed(spec.seed)
    suite = make_evaluator(spec.evaluator)
    tokenizer = load_tokenizer(spec.model)
    domains = filter_domains(spec.domains, spec.scores, spec.filters)
    sample = sample_mixture(domains, spec.mixture, spec.budget, spec.seed)
    pad = (
        tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else (tokenizer.eos_token_id or 0)
    )
    packed = sample.pack(spec.train.seq_len, pad)
    data_s = time.perf_counter() - start
    try:
        run = _train_and_evaluate(spec, suite, tokenizer, packed, report)
    finally:
        gc.collect()  # the model is unreachable once _train_and_evaluate returns; free it now
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    trained, final = run.trained, run.final
    return TrialResult(
        score=None if final is None else float(final.score),
        metrics={} if final is None else dict(final.metrics),
        intermediate=tuple(run.intermediate),
        loss_curve=trained.loss_curve,
        domains=sample.summary(),
        timings={
            "data_s": data_s, "load_s": run.load_s, "train_s": trained.seconds - run.probe_s,
            "eval_s": run.final_eval_s + run.probe_s, "total_s": time.perf_counter() - start,
        },
        steps=trained.steps, total_steps=trained.total_steps, stopped_early=trained.stopped_early,
        tokens_per_second=trained.tokens / max(1e-9, trained.seconds - run.probe_s),
        mixture=dict(spec.mixture), seed=spec.seed, filters=dict(spec.filters),
        kept={d.name: {"records": d.num_records, "tokens": d.num_tokens, "of_records": o.num_records, "of_tokens": o.num_tokens}
              for d, o in zip(domains, spec.domains, strict=True) if d is not o},
    )  # fmt: skip


@dataclass
class _Run:
    trained: Any
    final: Any
    intermediate: list[tuple[int, float]]
    load_s: float
    probe_s: float
    final_eval_s: float


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
    dtype = (
        autocast_dtype(spec.train, device) if device.type == "cuda" else None
    )  # CPU weights stay fp32
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
        return report(step, total, score) if report is not None else None

    run.trained = finetune(
        model, packed, spec.train, device, on_checkpoint if probe or report else None
    )
    t1 = time.perf_counter()
    run.final = None if run.trained.stopped_early else suite.evaluate(model, tokenizer)
    run.final_eval_s = time.perf_counter() - t1
    return run
