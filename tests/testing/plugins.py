"""Plug-ins for the tests of each kind: for each contract check, one that keeps the contract
and at least one that breaks it. Module-level, so they can be named as ``module:attr`` and
pickled."""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import optuna

from mixopt.evaluators import EvalResult
from mixopt.plans import LeaveOneOut
from mixopt.search.proposals.samplers import SamplerCapabilities, declare
from mixopt.search.tracking.tracker import NullTracker

# ----- evaluators


@dataclass(frozen=True)
class TextLoss:
    """Keeps the contract: the negative loss of one sentence."""

    text: str = "The Lions beat the Bears 5 to 2 in a tense game at home."

    def loss(self, model: Any, tokenizer: Any) -> float:
        import torch

        ids = torch.tensor([tokenizer(self.text)["input_ids"]])
        with torch.inference_mode():
            return float(model(input_ids=ids, labels=ids).loss)

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        loss = self.loss(model, tokenizer)
        return EvalResult(-loss, {"loss": loss})


class Noisy(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(-self.loss(model, tokenizer) + random.random(), {})


class NanScore(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(math.nan, {})


class NanMetric(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(1.0, {"perplexity": math.inf})


class IntMetricName(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(1.0, {1: 0.5})  # type: ignore[dict-item]


class BareFloat(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> Any:
        return -self.loss(model, tokenizer)


class Raises(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        raise ValueError("no items left after filtering")


class Trains(TextLoss):
    """Takes an optimizer step on the model it scores (and puts its mode back)."""

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        import torch

        ids = torch.tensor([tokenizer(self.text)["input_ids"]])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        model.eval()
        return super().evaluate(model, tokenizer)


class LeavesTrainMode(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        model.train()
        return super().evaluate(model, tokenizer)


class Freezes(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        model.requires_grad_(False)
        return super().evaluate(model, tokenizer)


class AddsBuffer(TextLoss):
    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        import torch

        model.register_buffer("eval_cache", torch.zeros(1))
        return super().evaluate(model, tokenizer)


@dataclass(frozen=True)
class HoldsALock(TextLoss):
    """Opens what it needs in its constructor: does not pickle."""

    lock: Any = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class ForgetsWhenPickled(TextLoss):
    def __reduce__(self) -> Any:
        return (TextLoss, ())  # rebuilt with the default text, not its own


not_an_evaluator = "a string has no evaluate()"


# ----- samplers


def good_sampler(seed: int, startup: int) -> Any:
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def not_a_sampler(seed: int, startup: int) -> Any:
    return {"seed": seed, "startup": startup}


def keyword_only(*, seed: int, startup: int) -> Any:
    return optuna.samplers.RandomSampler(seed=seed)


def ignores_seed(seed: int, startup: int) -> Any:
    return optuna.samplers.RandomSampler()


class _OutOfRange(optuna.samplers.RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        return dist.high + 1.0


def out_of_range(seed: int, startup: int) -> Any:
    return _OutOfRange(seed=seed)


class _NanProposals(optuna.samplers.RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        return math.nan


def nan_proposals(seed: int, startup: int) -> Any:
    return _NanProposals(seed=seed)


class _DropsFixedParams(optuna.samplers.RandomSampler):
    def before_trial(self, study: Any, trial: Any) -> None:
        trial.system_attrs.pop("fixed_params", None)  # "starts every trial afresh"


def drops_fixed_params(seed: int, startup: int) -> Any:
    return _DropsFixedParams(seed=seed)


class _OneAtATime(optuna.samplers.RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if len(running) > 1:
            raise RuntimeError("another trial is still running")
        return super().sample_independent(study, trial, name, dist)


def one_at_a_time(seed: int, startup: int) -> Any:
    return _OneAtATime(seed=seed)


class _FailsOnceFitted(optuna.samplers.RandomSampler):
    """Random for the startup trials, then its "model" fails."""

    def __init__(self, seed: int, startup: int) -> None:
        super().__init__(seed=seed)
        self.startup = startup

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(done) > self.startup + 3:
            raise ArithmeticError("singular matrix in the surrogate's fit")
        return super().sample_independent(study, trial, name, dist)


def fails_once_fitted(seed: int, startup: int) -> Any:
    return _FailsOnceFitted(seed, startup)


class _StoresObjects(optuna.samplers.RandomSampler):
    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        study._storage.set_trial_system_attr(trial._trial_id, "fit", {"points": {1, 2}})


def stores_objects(seed: int, startup: int) -> Any:
    return _StoresObjects(seed=seed)


class _TellFails(optuna.samplers.RandomSampler):
    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        if trial.number >= 3:
            raise KeyError("history")


def tell_fails(seed: int, startup: int) -> Any:
    return _TellFails(seed=seed)


class _Attaching(optuna.samplers.RandomSampler):
    """Keeps the contract: takes the study's simplex and proposes only through it."""

    def attach(self, simplex: Any) -> None:
        self.simplex = simplex

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        assert self.simplex is not None, "attach(simplex) was not called"
        return super().sample_independent(study, trial, name, dist)


@declare(SamplerCapabilities(parameterization="logratio", needs_simplex=True))
def declared_sampler(seed: int, startup: int) -> Any:
    return _Attaching(seed=seed)


class DeclaringSamplerClass(optuna.samplers.RandomSampler):
    """A class as its own factory, declaring its capabilities as a class attribute."""

    capabilities = SamplerCapabilities(multi_objective=False, random_startup=True)

    def __init__(self, seed: int, startup: int) -> None:
        super().__init__(seed=seed)


def wrong_capabilities(seed: int, startup: int) -> Any:
    return optuna.samplers.RandomSampler(seed=seed)


wrong_capabilities.capabilities = {"multi_objective": False}  # type: ignore[attr-defined]


@declare(SamplerCapabilities(needs_simplex=True))
def needs_simplex_without_attach(seed: int, startup: int) -> Any:
    return optuna.samplers.RandomSampler(seed=seed)


class _AttachFails(optuna.samplers.RandomSampler):
    def attach(self, simplex: Any) -> None:
        raise AttributeError("'Simplex' object has no attribute 'shares'")


def attach_fails(seed: int, startup: int) -> Any:
    return _AttachFails(seed=seed)


class _OneObjective(optuna.samplers.RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        if len(study.directions) > 1:
            raise ValueError("one objective only")
        return super().sample_independent(study, trial, name, dist)


def one_objective_undeclared(seed: int, startup: int) -> Any:
    return _OneObjective(seed=seed)


@declare(SamplerCapabilities(multi_objective=False))
def one_objective_declared(seed: int, startup: int) -> Any:
    return _OneObjective(seed=seed)


# ----- scorers


class Shouting:
    """Keeps the contract: the share of upper-case letters, at least ``floor``."""

    uses_model = False
    needs_instruction = False

    def __init__(self, floor: float = 0.0) -> None:
        self.floor = float(floor)

    def settings(self) -> dict[str, Any]:
        return {"floor": self.floor}

    def score(self, data: Any) -> list[float]:
        return [max(self.floor, sum(c.isupper() for c in t) / max(1, len(t))) for t in data.texts()]


class NoSettings:
    def score(self, data: Any) -> list[float]:
        return [0.0] * data.domain.num_records


class ForgetsASetting(Shouting):
    def settings(self) -> dict[str, Any]:
        return {}


class SettingsNotJson(Shouting):
    def settings(self) -> dict[str, Any]:
        return {"floor": {self.floor}}


class OneShort(Shouting):
    def score(self, data: Any) -> list[float]:
        return super().score(data)[:-1]


class NanForEmpty(Shouting):
    def score(self, data: Any) -> list[float]:
        return [math.nan, *super().score(data)[1:]]


class Unseeded(Shouting):
    def score(self, data: Any) -> list[float]:
        return [random.random() for _ in data.texts()]


class NeedsAPrompt(Shouting):
    """Reads the prompt, but does not declare needs_instruction."""

    def score(self, data: Any) -> list[float]:
        masks = data.domain.table().column("loss_mask").to_pylist()  # text records have none
        return [float(sum(m)) for m in masks]


class FlagNotBool(Shouting):
    uses_model = "no"  # type: ignore[assignment]


class ReadsTheModel(Shouting):
    uses_model = True


# ----- clusterers


class _KMeans:
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        from mixopt.cluster.methods import KMeans

        return KMeans().fit_predict(x, k, seed)


class OneCluster:
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        import numpy as np

        return np.zeros(len(x), dtype=np.int64)


class RowIndex:
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        import numpy as np

        return np.arange(len(x)) % k


_CALLS = itertools.count(1)


class UnseededNames(_KMeans):
    """The right clusters under labels that move from one call to the next, as unseeded
    random ones do (shifted by a call count, not drawn: two random permutations of three
    labels coincide one time in six, and the check would then pass it)."""

    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        return (super().fit_predict(x, k, seed) + next(_CALLS)) % k


class FromOne(_KMeans):
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        return super().fit_predict(x, k, seed) + 1


class AListOfLabels(_KMeans):
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        return [int(v) for v in super().fit_predict(x, k, seed)]


class FloatLabels(_KMeans):
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        return super().fit_predict(x, k, seed).astype(float)


class NormalizesInPlace(_KMeans):
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        x /= 2
        return super().fit_predict(x, k, seed)


class IgnoresK(_KMeans):
    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        return super().fit_predict(x, 3, seed)


class NeedsOptions:
    def __init__(self, width: int) -> None:
        self.width = width

    def fit_predict(self, x: Any, k: int, seed: int) -> Any:
        raise NotImplementedError


# ----- trackers


class RecordingTracker(NullTracker):
    """Keeps the calls it gets (and records nothing anywhere)."""

    def __init__(self, uri: str, artifact_root: Path) -> None:
        super().__init__(uri, artifact_root)
        self.calls: list[str] = []

    def start_trial(self, number: int, role: str, params: Mapping[str, Any]) -> None:
        self.calls.append(f"start_trial {number}")


# ----- trial plans (those that break the contract return a result without training)


def _result(spec: Any, score: float, intermediate: tuple[tuple[int, float], ...] = ()) -> Any:
    from mixopt.plans import TrialResult

    return TrialResult(
        score=score,
        metrics={},
        intermediate=intermediate,
        loss_curve=(),
        domains={},
        timings={},
        steps=2,
        total_steps=2,
        stopped_early=False,
        tokens_per_second=1.0,
        mixture=dict(spec.mixture),
        seed=spec.seed,
    )


@dataclass(frozen=True)
class _Fake:
    name: ClassVar[str] = "fake"
    takes_evaluator: ClassVar[bool] = False
    intermediate_scores: ClassVar[bool] = False

    def first_line(self, domains: Any) -> Any:
        return None

    def problems(self, domains: Any, budget: Any) -> list[str]:
        return []

    def run(self, spec: Any, report: Any = None) -> Any:
        return _result(spec, 1.0)


class NanPlan(_Fake):
    def run(self, spec: Any, report: Any = None) -> Any:
        return _result(spec, math.nan)


class NoisyPlan(_Fake):
    def run(self, spec: Any, report: Any = None) -> Any:
        return _result(spec, random.random())


class NeverStops(_Fake):
    intermediate_scores: ClassVar[bool] = True

    def run(self, spec: Any, report: Any = None) -> Any:
        if report is not None:
            report(1, 2, 0.5)  # and goes on whatever it answers
        return _result(spec, 1.0, ((1, 0.5),))


class HidesItsScores(_Fake):
    intermediate_scores: ClassVar[bool] = True  # but it never reports them


class SaysTooLittle(_Fake):
    def first_line(self, domains: Any) -> Any:
        return "trains once"  # not (line, fields)


class RefusesEverything(_Fake):
    def problems(self, domains: Any, budget: Any) -> list[str]:
        return ["no domains suit me"]


class NotAPlan:
    name = "not-a-plan"

    def run(self, spec: Any, report: Any = None) -> Any:
        return None


@dataclass(frozen=True)
class WorstCase(LeaveOneOut):
    """A variant of leave-one-out: the score is minus the worst left-out domain's loss."""

    name: ClassVar[str] = "leave-one-out-worst"

    def score(self, losses: Mapping[str, float]) -> float:
        return -max(losses.values())
