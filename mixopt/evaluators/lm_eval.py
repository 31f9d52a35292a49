"""``lm_eval``: tasks of lm-evaluation-harness, including ones defined in local YAML files.

Needs the optional extra: ``pip install 'mixopt[lm-eval]'``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mixopt.errors import ConfigError
from mixopt.evaluators._base import EvalResult
from mixopt.evaluators._lm import model_device

__all__ = ["LmEvalTask"]

_RATES = ("acc", "acc_norm", "exact_match", "em", "f1", "mc1", "mc2")  # lm-eval metrics in [0, 1]


@dataclass(frozen=True)
class LmEvalTask:
    """Run lm-evaluation-harness tasks on the model in memory. Score: the mean of each task's
    ``metric``."""

    tasks: tuple[str, ...] | list[str]
    """lm-eval task names (built-in ones, or ones defined under ``include_path``)."""
    include_path: str | None = None
    """Folder of task YAML files (relative to the task file). Relative ``data_files`` in those
    tasks are read relative to this folder, so local tasks need no network."""
    metric: str = "acc"
    """Metric of each task that makes the score (``acc``, ``acc_norm``, ``exact_match``...)."""
    num_fewshot: int | None = None
    limit: int | None = None
    """At most this many documents per task."""
    batch_size: int = 16

    @property
    def score_scale(self) -> str | None:
        """``fraction`` for the rate metrics (between 0 and 1), else not declared (see EvalSuite)."""
        return "fraction" if self.metric.split(",")[0] in _RATES else None

    def _task_manager(self) -> Any:
        try:
            from lm_eval.tasks import TaskManager
        except ImportError:
            raise ConfigError(
                "the lm_eval evaluator needs lm-evaluation-harness: pip install 'mixopt[lm-eval]'"
            ) from None
        if self.include_path is not None:
            # indexing lm-eval's own task library takes ~12 s: skip it when the local tasks suffice
            local = TaskManager(include_path=self.include_path, include_defaults=False)
            if all(t in local.all_tasks for t in self.tasks):
                return local
        manager = TaskManager(include_path=self.include_path)
        missing = [t for t in self.tasks if t not in manager.all_tasks]
        if missing:
            raise ConfigError(f"lm_eval: unknown task {missing[0]!r}")
        return manager

    def check(self) -> None:
        self._task_manager()

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        manager = self._task_manager()
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM

        # lm-eval wants a transformers model; a peft model's base module carries the adapters
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        lm = HFLM(
            pretrained=base,
            tokenizer=tokenizer,
            batch_size=self.batch_size,
            device=str(model_device(model)),
        )
        with _working_dir(self.include_path):
            out = simple_evaluate(
                model=lm,
                tasks=list(self.tasks),
                task_manager=manager,
                num_fewshot=self.num_fewshot,
                limit=self.limit,
                bootstrap_iters=0,
                log_samples=False,
            )
        if out is None:
            raise ConfigError("lm_eval: no results (was this run on a non-main rank?)")
        metrics: dict[str, float] = {}
        scores = []
        for task in self.tasks:
            values = out["results"].get(task, {})
            key = next((k for k in values if k.split(",")[0] == self.metric), None)
            if key is None:
                raise ConfigError(
                    f"lm_eval: task {task!r} has no metric {self.metric!r} (it has {sorted(values)})"
                )
            scores.append(float(values[key]))
            metrics.update(
                {
                    f"{task}/{k.split(',')[0]}": float(v)
                    for k, v in values.items()
                    if isinstance(v, int | float) and "stderr" not in k
                }
            )
        return EvalResult(sum(scores) / len(scores), metrics)


@contextlib.contextmanager
def _working_dir(path: str | None) -> Iterator[None]:
    """lm-eval hands relative ``data_files`` to ``datasets`` as they are: resolve them there."""
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
