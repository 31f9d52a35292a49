"""Trial runners that stand in for :func:`mixopt.trial.run_trial` where only the machinery
around a trial is being measured or tested: a trivial trial (benchmarks/search_overhead.py),
one that injects faults for real inside the Ray worker that runs it, and the real trial
with its worker's memory measured around it (benchmarks/gpu_check.py).

Module-level and picklable: a study sends its runner to every worker (``runner=``).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mixopt.trial import TrialResult, TrialSpec

__all__ = [
    "FAULTS",
    "FaultyTrial",
    "HoldingPlan",
    "MeasuredTrial",
    "PeakedPlan",
    "ScriptedTrial",
    "TrivialPlan",
    "WaitingTrial",
    "trivial_result",
]

FAULTS = ("train_error", "eval_error", "nan", "inf", "slow", "oom", "kill_worker")
"""What :class:`FaultyTrial` can do to a trial."""


def trivial_result(spec: TrialSpec, elapsed: float, score: float | None = None) -> TrialResult:
    """A result scoring the mixture by a fixed smooth function (closeness to uniform), so a
    study around it behaves like a real one; ``score`` overrides it."""
    shares = dict(spec.mixture)
    if score is None:
        score = -sum((v - 1 / len(shares)) ** 2 for v in shares.values())
    return TrialResult(
        score=score,
        metrics={},
        intermediate=(),
        loss_curve=(),
        domains={
            n: {"tokens": round(v * spec.budget), "records": 0, "epochs": 0.0}
            for n, v in shares.items()
        },
        timings={
            "data_s": 0.0,
            "load_s": 0.0,
            "train_s": elapsed,
            "eval_s": 0.0,
            "wait_s": 0.0,
            "total_s": elapsed,
        },
        steps=0,
        total_steps=0,
        stopped_early=False,
        tokens_per_second=0.0,
        mixture=shares,
        seed=spec.seed,
    )


@dataclass(frozen=True)
class WaitingTrial:
    """A trial that waits ``seconds`` instead of training, scored by :func:`trivial_result`."""

    seconds: float = 0.0

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        start = time.perf_counter()
        time.sleep(self.seconds)
        return trivial_result(spec, time.perf_counter() - start)


@dataclass(frozen=True)
class TrivialPlan:
    """A trial plan that trains nothing, scored by :func:`trivial_result`: what a study run
    through the CLI (``--plan tests.support.runners:TrivialPlan``, no ``--eval``) runs where
    only the machinery around its trials is tested."""

    name: ClassVar[str] = "trivial"
    takes_evaluator: ClassVar[bool] = False
    intermediate_scores: ClassVar[bool] = False

    def run(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        return trivial_result(spec, 0.0)

    def first_line(self, domains: Any) -> None:
        return None

    def problems(self, domains: Any, budget: int | None) -> list[str]:
        return []


@dataclass(frozen=True)
class PeakedPlan(TrivialPlan):
    """:class:`TrivialPlan`, but a trial scores its mixture's largest share (so a searched
    mixture beats both baselines), and one past 1k tokens fails for a mixture with a share
    over 0.4: a study whose answer cannot be trained at a larger budget (a transfer check's
    runs of it fail there, the baselines' complete)."""

    name: ClassVar[str] = "peaked"

    def run(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        peak = max(spec.mixture.values())
        if spec.budget > 1000 and peak > 0.4:
            raise RuntimeError(f"a {peak:.2f} share does not fit {spec.budget} tokens")
        return trivial_result(spec, 0.0, peak)


def hold_folder(seed: int) -> Path:
    """Where :class:`HoldingPlan` numbers the trials of a study searched with ``seed``."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"mixopt-test-hold-{seed}"


@dataclass(frozen=True)
class HoldingPlan(TrivialPlan):
    """:class:`TrivialPlan`, but the trials of a study whose seed has a :func:`hold_folder`
    are numbered (in the order they start, across every process) and each from the one
    numbered by the folder's ``pass`` file (default 0) on touches ``waiting-N`` there and
    waits while the folder exists (at most 600 s, or ``$MIXOPT_TEST_HOLD_S``): a driver caught with a trial running,
    for the tests that signal it or start another beside it. The folder is found by the
    study's seed, the one thing a trial spec carries that a test chooses, so the plan works
    in a Ray worker as in the driver (``--plan tests.support.runners:HoldingPlan``)."""

    name: ClassVar[str] = "holding"

    def run(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        folder = hold_folder(spec.seed)
        if folder.is_dir():
            call = _number_call(folder)
            passing = folder / "pass"
            if call >= (int(passing.read_text()) if passing.is_file() else 0):
                (folder / f"waiting-{call}").touch()
                end = time.monotonic() + float(os.environ.get("MIXOPT_TEST_HOLD_S", "600"))
                while folder.is_dir() and time.monotonic() < end:
                    time.sleep(0.05)
        return trivial_result(spec, 0.0)


@dataclass(frozen=True)
class ScriptedTrial:
    """A trial whose score is scripted: the mixture's true value (``weights``: the sum of
    each domain's weight times its share; ``at_budget``: other weights at another budget),
    plus a per-seed offset every mixture shares (what a seed does to all of them alike),
    plus mixture-by-seed noise of sd ``noise``, plus ``luck``: on seed ``luck[1]`` a mixture
    whose largest share is domain ``luck[0]`` scores ``luck[2]`` more (the search seed's
    luck, which fresh seeds do not repeat). Deterministic: the same run scores the same in
    any process."""

    weights: tuple[tuple[str, float], ...]
    noise: float = 0.0
    luck: tuple[str, int, float] | None = None
    at_budget: tuple[tuple[int, tuple[tuple[str, float], ...]], ...] = ()

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        import zlib

        import numpy as np

        shares = dict(spec.mixture)
        weights = dict(dict(self.at_budget).get(spec.budget, self.weights))
        value = sum(weights.get(d, 0.0) * v for d, v in shares.items())
        key = ",".join(f"{d}={shares[d]:.3f}" for d in sorted(shares))
        offset = np.random.default_rng([spec.seed, 7]).normal(0, 0.05)
        noise = np.random.default_rng([spec.seed, zlib.crc32(key.encode())]).normal(0, 1)
        value += float(offset) + self.noise * float(noise)
        lucky = self.luck is not None and spec.seed == self.luck[1]
        if lucky and self.luck and max(shares, key=lambda d: shares[d]) == self.luck[0]:
            value += self.luck[2]
        return trivial_result(spec, 0.0, value)


@dataclass(frozen=True)
class MeasuredTrial:
    """The real trial (:func:`mixopt.trial.run_trial`), with what its worker held around it
    added to its metrics: ``worker.pid`` (a reused worker runs several trials), and on CUDA
    ``cuda.before_mb`` (allocated when it started), ``cuda.peak_mb`` (the most allocated
    during it), ``cuda.after_mb`` and ``cuda.reserved_after_mb`` (allocated, and held by
    torch's caching allocator, once it returned: what the next trial in the worker starts
    from)."""

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        import dataclasses

        import torch

        from mixopt.trial import run_trial

        cuda = torch.cuda.is_available()
        mb = 2**20
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated() / mb
        result = run_trial(spec, report)
        extra = {"worker.pid": float(os.getpid())}
        if cuda:  # run_trial has freed the model (gc, then empty_cache) before it returns
            extra.update(
                {
                    "cuda.before_mb": before,
                    "cuda.peak_mb": torch.cuda.max_memory_allocated() / mb,
                    "cuda.after_mb": torch.cuda.memory_allocated() / mb,
                    "cuda.reserved_after_mb": torch.cuda.memory_reserved() / mb,
                }
            )
        return dataclasses.replace(result, metrics={**result.metrics, **extra})


@dataclass(frozen=True)
class FaultyTrial:
    """A trivial trial that injects a fault into chosen calls.

    Calls are numbered across all workers, in the order they start, by files in ``folder``
    (created atomically, so concurrent workers never share a number); call ``n`` suffers
    ``faults[n]`` (None, or past the end: no fault). The faults, each done for real:

    - ``train_error`` / ``eval_error``: raise during "training" (before any score) or
      during "evaluation" (after an intermediate score);
    - ``nan`` / ``inf``: return that score;
    - ``slow``: write ``started-N`` in ``folder``, then work (in short steps, like a training
      loop) for ``seconds``; if stopped on the way, write ``stopped-N`` and re-raise;
    - ``oom``: raise ``torch.OutOfMemoryError`` (what CUDA raises when memory runs out);
    - ``kill_worker``: SIGKILL the worker process running the trial.
    """

    folder: str
    faults: tuple[str | None, ...] = ()
    seconds: float = 600.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.faults if f is not None and f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)}")

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        start = time.perf_counter()
        call = _number_call(Path(self.folder))
        fault = self.faults[call] if call < len(self.faults) else None
        if fault == "kill_worker":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "oom":
            import torch

            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (injected fault)"
            )
        if fault == "train_error":
            raise RuntimeError(f"injected training fault in call {call}")
        if fault == "slow":
            self._work(call)
        if report is not None:
            report(1, 2, 0.0)
        if fault == "eval_error":
            raise RuntimeError(f"injected evaluation fault in call {call}")
        score = {"nan": float("nan"), "inf": float("inf")}.get(fault or "")
        return trivial_result(spec, time.perf_counter() - start, score)

    def _work(self, call: int) -> None:
        folder = Path(self.folder)
        (folder / f"started-{call}").touch()
        try:
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                time.sleep(0.05)  # a step: the trial can be stopped between two
        except BaseException:
            (folder / f"stopped-{call}").touch()
            raise


def _number_call(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        try:
            os.close(os.open(folder / f"call-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return n
        except FileExistsError:
            n += 1
