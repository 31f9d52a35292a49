"""Contract checks for plug-ins, to call from your own tests (like scikit-learn's
``check_estimator``)::

    from mixopt.testing import check_evaluator, check_plan, check_sampler

    def test_my_evaluator(model, tokenizer):
        check_evaluator("my_package.evals:my_evaluator", model, tokenizer)

    def test_my_sampler():
        check_sampler("my_package.search:make_sampler")

    def test_my_plan(model_dir):
        check_plan("my_package.plans:MyPlan", model_dir)

A check that fails raises :class:`ContractError` (an ``AssertionError``, so any test runner
reports it as a failure) whose one line says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mixopt.errors import MixoptError, error_line

__all__ = ["ContractError", "check_evaluator", "check_plan", "check_sampler"]


class ContractError(AssertionError):
    """A plug-in breaks mixopt's contract for its kind; the message says what and how to fix it."""


def check_evaluator(evaluator: Any, model: Any, tokenizer: Any, *, tolerance: float = 1e-6) -> None:
    """Check that ``evaluator`` can score trials: ``evaluator`` is anything mixopt accepts as
    one (an object with ``evaluate``, ``module:attr``, a task file, an ``EvalSuite``).

    Every task of a suite is checked on its own, the intermediate one included. Each is called
    as a trial calls it (``model`` in eval mode) and must: return an ``EvalResult`` with a
    finite score and a dict of finite metrics; give the same score twice (within
    ``tolerance``); leave the model's weights, ``requires_grad`` and train/eval modes as
    they were; and pickle, the copy scoring the same (Ray sends a copy to each trial).
    A task's ``check()`` (its data) must pass too. Use a small model: its weights are copied
    to tell whether they changed.
    """
    from mixopt.evaluators import make_evaluator

    try:
        suite = make_evaluator(evaluator)
    except MixoptError as exc:
        raise ContractError(exc.problems[0]) from None  # it names the evaluator
    problems = suite.check()
    if problems:
        raise ContractError(
            f"the evaluator's check() fails: {problems[0]}; fix its data or options"
        )
    modes = _modes(model)
    try:
        for task in suite.tasks:
            role = " (the intermediate one)" if task.name == suite.intermediate else ""
            _check_one(
                task.evaluator, f"evaluator {task.name!r}{role}", model, tokenizer, tolerance
            )
    finally:
        _restore_modes(model, modes)


def _check_one(evaluator: Any, where: str, model: Any, tokenizer: Any, tolerance: float) -> None:
    copied = _round_trip(evaluator, where)  # before it has run, as Ray sends it
    model.eval()  # as a trial calls evaluators: at checkpoints and at the end, in eval mode
    first = _evaluate(evaluator, where, model, tokenizer)
    second = _evaluate(evaluator, where, model, tokenizer)
    if not math.isclose(first.score, second.score, rel_tol=tolerance, abs_tol=tolerance):
        raise ContractError(
            f"{where} is not deterministic: it scored {first.score!r} then {second.score!r} on "
            "the same model; seed any sampling (or use greedy decoding) and fix the data's order"
        )
    unpickled = _evaluate(copied, f"{where}, unpickled,", model, tokenizer)
    if not math.isclose(first.score, unpickled.score, rel_tol=tolerance, abs_tol=tolerance):
        raise ContractError(
            f"{where} scores {first.score!r} but its pickled copy scores {unpickled.score!r}; "
            "keep every setting in attributes that pickle (Ray sends a copy to each trial)"
        )


def _round_trip(obj: Any, where: str, method: str = "evaluate()") -> Any:
    from ray import cloudpickle  # what Ray itself pickles with

    try:
        return cloudpickle.loads(cloudpickle.dumps(obj))  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise ContractError(
            f"{where} does not pickle ({error_line(exc)}); Ray sends it to each trial: store "
            f"paths and options, and open files, connections or models inside {method}"
        ) from exc


def _evaluate(evaluator: Any, where: str, model: Any, tokenizer: Any) -> Any:
    before = _state(model)
    try:
        result = evaluator.evaluate(model, tokenizer)
    except Exception as exc:
        raise ContractError(
            f"{where} raised {error_line(exc)}; it must score a working model (the "
            "traceback above shows where it failed)"
        ) from exc
    _check_result(result, where)
    _check_unchanged(before, _state(model), where)
    return result


def _check_result(result: Any, where: str) -> None:
    from mixopt.evaluators import EvalResult

    if not isinstance(result, EvalResult):
        raise ContractError(
            f"{where} returned {type(result).__name__}, not an EvalResult; "
            "return mixopt.evaluators.EvalResult(score, metrics)"
        )
    if not _finite(result.score):
        raise ContractError(
            f"{where} returned the score {result.score!r}; the score must be a finite float "
            "(higher is better): guard empty data and divisions by zero"
        )
    if not isinstance(result.metrics, Mapping):
        raise ContractError(
            f"{where} returned metrics of type {type(result.metrics).__name__}; "
            "give a dict of name -> float"
        )
    for key, value in result.metrics.items():
        if not isinstance(key, str):
            raise ContractError(f"{where}: metric name {key!r} is not a str; name metrics with str")
        if not _finite(value):
            raise ContractError(
                f"{where}: metric {key!r} is {value!r}, not a finite float; "
                "leave out a metric that has no value"
            )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _state(model: Any) -> tuple[dict[str, Any], dict[str, bool], dict[str, bool]]:
    """Copies of the weights, each module's training flag, each parameter's requires_grad."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return weights, _modes(model), {k: p.requires_grad for k, p in model.named_parameters()}


def _check_unchanged(before: Any, after: Any, where: str) -> None:
    import torch

    (w0, m0, g0), (w1, m1, g1) = before, after
    if w0.keys() != w1.keys():
        added, removed = sorted(w1.keys() - w0.keys()), sorted(w0.keys() - w1.keys())
        raise ContractError(
            f"{where} changed the model's layout (added {added[:2]}, removed {removed[:2]}); "
            "evaluate the model as given, or a copy.deepcopy of it"
        )
    changed = [k for k in w0 if not torch.equal(w0[k], w1[k])]
    if changed:
        raise ContractError(
            f"{where} changed the model's weights ({len(changed)} tensors, e.g. {changed[0]!r}); "
            "score under torch.inference_mode() and never train the model it is given"
        )
    if m0 != m1:
        now = "train" if any(m1.values()) else "eval"
        raise ContractError(
            f"{where} left the model in {now} mode (it was called in eval mode); "
            "restore what you change: was = model.training, then model.train(was)"
        )
    flipped = [k for k in g0 if g0[k] != g1.get(k)]
    if flipped:
        raise ContractError(
            f"{where} changed requires_grad of {len(flipped)} parameters (e.g. {flipped[0]!r}); "
            "restore it, or the trial's LoRA weights stop training"
        )


def _modes(model: Any) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def _restore_modes(model: Any, modes: Mapping[str, bool]) -> None:
    for name, module in model.named_modules():
        module.training = modes.get(name, module.training)


def check_plan(
    plan: Any, model: str | Path, *, budget: int = 1_000, tolerance: float = 1e-6
) -> None:
    """Check that ``plan`` (a name as ``--plan`` takes it, ``module:attr``, or a plan object)
    can run a study's trials, on ``model``: a small local model folder (its tokenizer
    tokenizes two toy domains, and the plan fine-tunes it).

    The plan must: declare ``name`` (a str), ``takes_evaluator`` and ``intermediate_scores``
    (bools); say its first line as None or a line and JSON fields; find no problem with the
    two toy domains at ``budget``; and run a trial as a study does, given a held-out loss
    task as its evaluator (with it as the intermediate task) if it takes one: a
    ``TrialResult`` with a finite score and finite metrics, the trial's mixture and seed,
    and trained steps; intermediate scores at the checkpoints, each also given to
    ``report``, if it declares them, and none otherwise; stopped early (no score) when
    ``report`` returns False, if it has intermediate scores; and the same score (within
    ``tolerance``) from a pickled copy of the trial with the same seed (Ray sends a copy to
    each trial). It takes a few trainings of ``budget`` tokens.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mixopt-check-plan-") as tmp:
        built = _plan(plan)
        spec = _plan_trial(built, str(model), Path(tmp), budget)
        _plan_declares(built, spec)
        first = _run_plan(spec, None)
        if built.intermediate_scores:
            stopped = _run_plan(spec, lambda step, total, score: False)
            if not stopped.stopped_early or stopped.score is not None:
                raise ContractError(
                    f"plan {built.name!r} declares intermediate scores but ran on when report() "
                    "returned False; stop the training there (stopped_early=True, score None)"
                )
        again = _run_plan(_round_trip(spec, f"plan {built.name!r}", "run()"), None)
        if not math.isclose(first.score, again.score, rel_tol=tolerance, abs_tol=tolerance):
            raise ContractError(
                f"plan {built.name!r} scored {first.score!r}, then {again.score!r} from a pickled "
                "copy of the same trial and seed; seed every sample and initialization from "
                "spec.seed, and keep every setting in attributes that pickle"
            )


def _plan(plan: Any) -> Any:
    from mixopt.plans import PLANS, TrialPlan

    if isinstance(plan, str):
        try:
            plan = PLANS.get(plan)
        except MixoptError as exc:
            raise ContractError(exc.problems[0]) from None  # it names the plan
    if isinstance(plan, type) or (callable(plan) and not isinstance(plan, TrialPlan)):
        try:
            plan = plan()
        except Exception as exc:
            raise ContractError(
                f"plan {plan!r}: building it with no arguments raised {error_line(exc)}; give "
                "every option a default (mixopt builds a plan as --plan names it)"
            ) from exc
    if not isinstance(plan, TrialPlan):
        raise ContractError(
            f"{plan!r} is not a trial plan; give it name, takes_evaluator, intermediate_scores, "
            "run(spec, report), first_line(domains) and problems(domains, budget)"
        )
    return plan


def _plan_trial(plan: Any, model: str, root: Path, budget: int) -> Any:
    """A trial of two toy domains, with a held-out loss task if ``plan`` takes an evaluator."""
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.evaluators import EvalSuite, LossTask, NamedTask
    from mixopt.models import load_tokenizer
    from mixopt.plans import TrialSpec
    from mixopt.testing.corpus import make_heldout, make_records, write_domains
    from mixopt.training.config import TrainConfig

    kinds = {"finance": "jsonl", "cooking": "jsonl"}
    domains = tokenize_domains(
        load_domains(str(write_domains(root / "data", kinds, n=200, seed=0))),
        load_tokenizer(model),
        root / "cache",
    )
    held = make_heldout("finance", 12, 0, make_records("finance", 200, seed=0))
    (root / "heldout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held))
    task = NamedTask("heldout", LossTask(str(root / "heldout.jsonl")))
    suite = EvalSuite((task,), intermediate="heldout") if plan.takes_evaluator else None
    # two checkpoints: the intermediate scores and a stop between them; one thread, as a
    # one-CPU trial has (a test runner's other workers would oversubscribe more)
    train = TrainConfig(seq_len=64, batch_size=4, checkpoints=2, learning_rate=3e-3, threads=1)
    mixture = {"finance": 0.6, "cooking": 0.4}
    return TrialSpec(model, tuple(domains), mixture, budget, suite, train, seed=1, plan=plan)


def _plan_declares(plan: Any, spec: Any) -> None:
    """Its declared name and capabilities, first line and problems, each of the right kind."""
    name = getattr(plan, "name", None)
    if not isinstance(name, str) or not name:
        raise ContractError(f"plan {plan!r}: name is {name!r}; name it with a str (its --plan)")
    for flag in ("takes_evaluator", "intermediate_scores"):
        if not isinstance(getattr(plan, flag), bool):
            raise ContractError(f"plan {name!r}: {flag} is {getattr(plan, flag)!r}, not a bool")
    said = plan.first_line([d.name for d in spec.domains])
    if said is not None:
        ok = isinstance(said, tuple) and len(said) == 2 and isinstance(said[0], str)
        try:
            json.dumps(said[1] if ok else None)
        except (TypeError, ValueError):
            ok = False
        if not ok or not isinstance(said[1], Mapping):
            raise ContractError(
                f"plan {name!r}: first_line gave {said!r}; give None, or (line, fields) with "
                "a str line and a dict of JSON values (the trial_plan event's fields)"
            )
    problems = plan.problems(spec.domains, spec.budget)
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise ContractError(f"plan {name!r}: problems gave {problems!r}, not a list of str")
    if problems:
        raise ContractError(
            f"plan {name!r} refuses two toy domains at budget {spec.budget}: {problems[0]}; "
            "refuse only what cannot run (check_plan(..., budget=N) to try another budget)"
        )


def _run_plan(spec: Any, report: Any) -> Any:
    """Run ``spec`` as a study does, recording what reaches ``report``; check the result."""
    from mixopt.plans import TrialResult

    name, reported = spec.plan.name, []

    def record(step: int, total: int, score: float | None) -> bool | None:
        reported.append(score)
        return report(step, total, score) if report is not None else None

    try:
        result = spec.plan.run(spec, record)
    except Exception as exc:
        raise ContractError(
            f"plan {name!r} raised {error_line(exc)} running a trial of two toy domains (the "
            "traceback above shows where)"
        ) from exc
    if not isinstance(result, TrialResult):
        raise ContractError(
            f"plan {name!r} returned {type(result).__name__}; return a mixopt.plans.TrialResult"
        )
    if report is not None:
        return result  # stopped: checked by the caller
    _check_plan_result(result, spec, [s for s in reported if s is not None])
    return result


def _check_plan_result(result: Any, spec: Any, reported: list[float]) -> None:
    name = spec.plan.name
    if not _finite(result.score) or result.stopped_early:
        raise ContractError(
            f"plan {name!r} gave the score {result.score!r} for a trial run to its end; give "
            "a finite float (higher is better)"
        )
    bad = [k for k, v in result.metrics.items() if not isinstance(k, str) or not _finite(v)]
    if bad:
        raise ContractError(f"plan {name!r}: metric {bad[0]!r} is not a finite float")
    if result.mixture != dict(spec.mixture) or result.seed != spec.seed or result.steps < 1:
        raise ContractError(
            f"plan {name!r} returned mixture {result.mixture}, seed {result.seed}, "
            f"{result.steps} steps; give the trial's own mixture and seed, and the steps trained"
        )
    scores = [s for _, s in result.intermediate]
    if spec.plan.intermediate_scores and (not scores or scores != reported):
        raise ContractError(
            f"plan {name!r} declares intermediate scores but gave {scores} and reported "
            f"{reported}; score the evaluator's intermediate task at each checkpoint and "
            "pass each score to report()"
        )
    if not spec.plan.intermediate_scores and (scores or reported):
        raise ContractError(
            f"plan {name!r} declares no intermediate scores but gave some; set "
            "intermediate_scores = True (early stopping reads them)"
        )


SamplerFactory = Callable[[int, int], Any]
_STARTUP = 5  # fewer than the trials, so the sampler's own model proposes most of them
_SHORT = _STARTUP + 4  # a study just long enough for the model's first proposals
_TARGET = {"a": 0.5, "b": 0.1, "c": 0.3, "d": 0.1}  # the toy objective's best mixture
_BASELINE = {"a": 0.3, "b": 0.3, "c": 0.3, "d": 0.1}  # enqueued first, as mixopt does


def check_sampler(sampler: str | SamplerFactory, *, trials: int = 20, seed: int = 0) -> None:
    """Check that ``sampler`` (a name as ``--sampler`` takes it, ``module:attr``, or a factory
    ``(seed, startup) -> optuna sampler``) can drive a study, as it declares it can.

    On a toy simplex of four domains (a min share, a max share, a fixed share): the factory
    builds an ``optuna.samplers.BaseSampler``, and its capabilities are a
    ``SamplerCapabilities``; the sampler gets ``attach(simplex)`` where it has the method
    (one that declares ``needs_simplex`` must), as a study gives it; an enqueued trial
    (a baseline) gets exactly its parameters; every proposal lies in its range and gives a
    mixture on the simplex within the bounds, in both parameterizations (its own first);
    2 trials asked before either is told both work; a study of ``trials`` trials completes;
    the same seed proposes the same trials again; what the sampler stores on the study is
    JSON, as SQLite storage needs; and one that declares ``multi_objective`` completes a
    study with two objectives. Takes seconds.
    """
    from mixopt.search.proposals.space import Simplex

    name, factory = _resolve(sampler)
    declared = _declared(factory, name)
    own = declared.parameterization
    other = "logratio" if own == "exponential" else "exponential"
    with _quiet_optuna():
        simplex = Simplex(_toy_domains(), 10_000, own)
        full = _run(factory, name, simplex, seed, max(trials, _SHORT))
        again = _run(factory, name, simplex, seed, _SHORT)
        _same_proposals(full, again, name, seed)
        _run(factory, name, Simplex(_toy_domains(), 10_000, other), seed, _SHORT)
        if declared.multi_objective:
            _two_objectives(factory, name, simplex, seed)


def _resolve(sampler: str | SamplerFactory) -> tuple[str, SamplerFactory]:
    from mixopt.search.proposals.samplers import SAMPLERS

    if isinstance(sampler, str):
        try:
            return sampler, SAMPLERS.get(sampler)
        except MixoptError as exc:
            raise ContractError(exc.problems[0]) from None  # it names the sampler
    if not callable(sampler):
        raise ContractError(
            f"sampler {sampler!r} is not a factory; give a function (seed, startup) -> sampler"
        )
    return str(getattr(sampler, "__qualname__", sampler)), sampler


def _declared(factory: SamplerFactory, name: str) -> Any:
    from mixopt.search.proposals.samplers import capabilities_of

    try:
        return capabilities_of(factory, name)
    except MixoptError as exc:
        raise ContractError(exc.problems[0]) from None  # it names the sampler


def _build(factory: SamplerFactory, name: str, seed: int, simplex: Any) -> Any:
    import optuna

    try:
        built = factory(seed, _STARTUP)  # positionally, as mixopt calls it
    except Exception as exc:
        raise ContractError(
            f"sampler {name!r}: factory(seed, startup) raised {error_line(exc)}; "
            "mixopt calls it with two ints"
        ) from exc
    if not isinstance(built, optuna.samplers.BaseSampler):
        raise ContractError(
            f"sampler {name!r}: the factory returned {type(built).__name__}, not an "
            "optuna.samplers.BaseSampler; return one seeded with the seed it is given"
        )
    _attach(built, name, simplex, _declared(factory, name).needs_simplex)
    return built


def _attach(sampler: Any, name: str, simplex: Any, needed: bool) -> None:
    """``attach(simplex)``, as a study calls it before the first trial is asked."""
    attach = getattr(sampler, "attach", None)
    if not callable(attach):
        if needed:
            raise ContractError(
                f"sampler {name!r} declares needs_simplex, but its {type(sampler).__name__} "
                "has no attach(simplex) method; add one, or declare needs_simplex=False"
            )
        return
    try:
        attach(simplex)
    except Exception as exc:
        raise ContractError(
            f"sampler {name!r}: attach(simplex) raised {error_line(exc)}; mixopt calls it once "
            "with the study's Simplex before the first trial is asked"
        ) from exc


def _run(factory: SamplerFactory, name: str, simplex: Any, seed: int, trials: int) -> list[Any]:
    """A study as mixopt runs one: an enqueued baseline, trials one at a time, then two at
    once; every proposal checked. Returns the parameters of the trials run one at a time."""
    import optuna

    # in memory, to take seconds; _stored_as_json checks what SQLite storage would refuse
    study = optuna.create_study(sampler=_build(factory, name, seed, simplex), direction="maximize")
    fixed = simplex.params_for(_BASELINE)
    study.enqueue_trial(fixed, user_attrs={"role": "baseline:uniform"})
    proposals = []
    for n in range(trials - 2):
        trial, mixture = _ask(study, simplex, name, n, trials)
        if n == 0 and trial.params != fixed:
            raise ContractError(
                f"sampler {name!r} replaced an enqueued trial's parameters (a baseline's): "
                f"queued {fixed}, got {trial.params}; leave fixed parameters to Optuna "
                "(call super().before_trial, keep the trial's system_attrs)"
            )
        _tell(study, trial, mixture, name, n, trials)
        proposals.append(trial.params)
    try:  # mixopt runs trials at once: several are asked before any is told
        pair = [_ask(study, simplex, name, n, trials) for n in (trials - 2, trials - 1)]
        for n, (trial, mixture) in reversed(list(enumerate(pair, trials - 2))):
            _tell(study, trial, mixture, name, n, trials)
    except ContractError as exc:
        raise ContractError(
            f"sampler {name!r} failed with 2 trials asked before either was told "
            f"({error_line(exc.__cause__) if exc.__cause__ else exc}); mixopt runs trials at "
            "once, so proposing and learning must work while other trials run"
        ) from exc
    _stored_as_json(study, name)
    return proposals


def _ask(study: Any, simplex: Any, name: str, n: int, trials: int) -> tuple[Any, dict[str, float]]:
    """Ask for trial ``n`` and check its proposal."""
    try:
        trial = study.ask()
        mixture = simplex.suggest(trial)
    except Exception as exc:
        raise ContractError(
            f"sampler {name!r} failed at trial {n + 1} of a {trials}-trial study "
            f"({error_line(exc)}); it must propose a value in range for every parameter of "
            "every trial, the model's proposals after the startup ones included"
        ) from exc
    for param, value in trial.params.items():
        dist = trial.distributions[param]
        if not (math.isfinite(value) and dist.low <= value <= dist.high):
            raise ContractError(
                f"sampler {name!r} proposed {param}={value!r} at trial {n + 1}, outside its range "
                f"[{dist.low}, {dist.high}]; sample within the distribution it is given"
            )
    eps = 1e-9
    if abs(math.fsum(mixture.values()) - 1) > eps or any(
        not (d.spec.lower - eps <= mixture[d.name] <= d.spec.upper + eps) for d in simplex.domains
    ):
        raise ContractError(
            f"sampler {name!r}: trial {n + 1} ({simplex.kind}) gave the mixture {mixture}, off "
            "the simplex or outside the bounds; propose values within their ranges"
        )
    return trial, mixture


def _tell(
    study: Any, trial: Any, mixture: Mapping[str, float], name: str, n: int, trials: int
) -> None:
    try:
        study.tell(trial, -sum(abs(mixture[k] - v) for k, v in _TARGET.items()))
    except Exception as exc:
        raise ContractError(
            f"sampler {name!r} failed when trial {n + 1} of a {trials}-trial study was told "
            f"({error_line(exc)}); after_trial must accept every finished trial"
        ) from exc


def _same_proposals(full: list[Any], again: list[Any], name: str, seed: int) -> None:
    for n, (a, b) in enumerate(zip(full, again, strict=False)):
        if a.keys() != b.keys() or any(
            not math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in a
        ):
            raise ContractError(
                f"sampler {name!r} is not reproducible: with seed {seed}, trial {n + 1} proposed "
                f"{a} in one study and {b} in another; seed every random generator from the "
                "factory's seed argument"
            )


def _two_objectives(factory: SamplerFactory, name: str, simplex: Any, seed: int) -> None:
    """A short study with two objectives, which a sampler that declares ``multi_objective``
    must complete."""
    import optuna

    sampler = _build(factory, name, seed, simplex)
    study = optuna.create_study(sampler=sampler, directions=["maximize", "maximize"])
    for n in range(_SHORT):
        try:
            trial = study.ask()
            mixture = simplex.suggest(trial)
            study.tell(trial, [mixture["a"], mixture["c"]])
        except Exception as exc:
            raise ContractError(
                f"sampler {name!r} failed at trial {n + 1} of a study with two objectives "
                f"({error_line(exc)}); it declares multi_objective: make it take several "
                "objectives, or declare multi_objective=False"
            ) from exc


def _stored_as_json(study: Any, name: str) -> None:
    for trial in study.get_trials(deepcopy=False):
        for key, value in trial.system_attrs.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise ContractError(
                    f"sampler {name!r} stored {key!r} on trial {trial.number + 1} as "
                    f"{type(value).__name__}, which is not JSON ({error_line(exc)}); mixopt "
                    "keeps studies in SQLite, which stores attributes as JSON"
                ) from exc


def _toy_domains() -> tuple[Any, ...]:
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain

    specs = [
        DomainSpec("a", data=({"text": "a"},), min_share=0.1),
        DomainSpec("b", data=({"text": "b"},), max_share=0.4),
        DomainSpec("c", data=({"text": "c"},)),
        DomainSpec("d", data=({"text": "d"},), fixed_share=0.1),
    ]
    # far more tokens than the budget: no repetition cap binds, only the bounds
    return tuple(TokenizedDomain(s, "text", "/unused", 1000, 10**6) for s in specs)


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
