"""The pieces every plan is made of: a trial's setup (threads, seed, tokenizer, filtered
domains) and a pass (load the model, add LoRA, train on a packed sample, evaluate), its model
freed before the next. The model is rebuilt in every pass, so nothing leaks between them.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite
    from mixopt.plans._base import OnCheckpoint, TrialSpec

__all__ = ["Pass", "Setup", "pad_id", "setup", "train_pass"]


@dataclass(frozen=True)
class Setup:
    """What a trial's passes share."""

    tokenizer: Any
    domains: tuple[TokenizedDomain, ...]
    """The trial's domains, its filters applied."""
    common: dict[str, Any]
    """The result's fields every plan fills alike: mixture, seed, filters, and what they kept."""
    start: float
    """When the trial started (``time.perf_counter``)."""


def setup(spec: TrialSpec) -> Setup:
    """Limit torch's threads, seed, load the tokenizer, and apply the trial's filters."""
    from transformers import set_seed

    from mixopt.data.filtering import filter_domains
    from mixopt.models import load_tokenizer
    from mixopt.training.device import set_threads

    start = time.perf_counter()
    set_threads(spec.train)
    set_seed(spec.seed)
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
    common = {
        "mixture": dict(spec.mixture),
        "seed": spec.seed,
        "filters": dict(spec.filters),
        "kept": kept,
    }
    return Setup(tokenizer, tuple(domains), common, start)


def pad_id(tokenizer: Any) -> int:
    return int(
        tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else (tokenizer.eos_token_id or 0)
    )


@dataclass
class Pass:
    """One training and its evaluation."""

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


def train_pass(
    spec: TrialSpec, suite: EvalSuite, tokenizer: Any, packed: Any, report: OnCheckpoint | None
) -> Pass:
    """Train on ``packed`` and evaluate with ``suite`` (its ``intermediate`` task at each
    checkpoint, for ``report``); the model is freed (on the GPU too) before this returns."""
    import torch

    try:
        return _train_and_evaluate(spec, suite, tokenizer, packed, report)
    finally:
        gc.collect()  # the model is unreachable once _train_and_evaluate returns; free it now
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _train_and_evaluate(
    spec: TrialSpec, suite: EvalSuite, tokenizer: Any, packed: Any, report: OnCheckpoint | None
) -> Pass:
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
    run = Pass(None, None, [], time.perf_counter() - t0, 0.0, 0.0)
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
