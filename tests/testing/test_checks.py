"""The contract checks pass every built-in plug-in and fail each broken one with its message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.cluster import CLUSTERERS
from mixopt.evaluators import EVALUATORS, LossTask
from mixopt.plans import PLANS
from mixopt.scorers import SCORERS, uses_model
from mixopt.search.proposals.samplers import SAMPLERS
from mixopt.testing import (
    ContractError,
    check_clusterer,
    check_evaluator,
    check_plan,
    check_sampler,
    check_scorer,
)
from tests.testing import plugins

DATA = Path(__file__).resolve().parents[2] / "downstream" / "data"
LM_EVAL_TASKS = DATA.parent / "lm_eval_tasks"
PLUGINS = "tests.testing.plugins"

# each built-in kind on a few items of the shipped data (the checks score each task 3 times)
KINDS: dict[str, dict[str, Any]] = {
    "loss": {"data": str(DATA / "finance_heldout.jsonl"), "limit": 6},
    "multiple_choice": {"data": str(DATA / "sports_mc.jsonl"), "limit": 4},
    "exact_match": {"data": str(DATA / "cooking_last_word.jsonl"), "limit": 3, "max_new_tokens": 6},
    "sql_execution": {
        "data": str(DATA / "sql_hospital.jsonl"),
        "limit": 3,
        "max_new_tokens": 24,
        "timeout_s": 0.2,
    },
    "lm_eval": {"tasks": ["mixopt_sports_mc"], "include_path": str(LM_EVAL_TASKS), "limit": 4},
}


def _task_file(path: Path, raw: dict[str, Any]) -> str:
    path.write_text(json.dumps(raw))  # JSON is YAML
    return str(path)


@pytest.fixture()
def scratch(tiny_model: Any) -> tuple[Any, Any]:
    """A copy of the tiny model that a broken evaluator may damage."""
    model, tok = tiny_model
    return copy.deepcopy(model), tok


def _fails(match: str) -> Any:
    return pytest.raises(ContractError, match=match)


def test_every_builtin_kind_is_covered() -> None:
    assert set(KINDS) == set(EVALUATORS.names())


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "lm_eval"])
def test_builtin_kinds_keep_the_contract(kind: str, tiny_model: Any, tmp_path: Path) -> None:
    model, tok = tiny_model
    model.train()  # whatever mode it is given, it gets back
    try:
        check_evaluator(_task_file(tmp_path / "t.yaml", {"kind": kind, **KINDS[kind]}), model, tok)
        assert all(m.training for m in model.modules())
    finally:
        model.eval()


@pytest.mark.slow
def test_lm_eval_keeps_the_contract(tiny_model: Any, tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the optional 'lm-eval' extra")
    model, tok = tiny_model
    check_evaluator(
        _task_file(tmp_path / "t.yaml", {"kind": "lm_eval", **KINDS["lm_eval"]}), model, tok
    )


def test_a_suite_checks_each_task_and_names_the_intermediate(
    tiny_model: Any, tmp_path: Path
) -> None:
    model, tok = tiny_model
    tasks = [
        {"name": "mc", "kind": "multiple_choice", "weight": 1, **KINDS["multiple_choice"]},
        {"name": "heldout", "kind": "loss", "weight": 0, **KINDS["loss"]},
    ]
    check_evaluator(
        _task_file(tmp_path / "ok.yaml", {"tasks": tasks, "intermediate": "heldout"}), model, tok
    )
    tasks[1] = {"name": "heldout", "kind": f"{PLUGINS}:NanScore", "weight": 0}
    broken = _task_file(tmp_path / "bad.yaml", {"tasks": tasks, "intermediate": "heldout"})
    with _fails(r"evaluator 'heldout' \(the intermediate one\) returned the score nan"):
        check_evaluator(broken, model, tok)


def test_a_user_evaluator_given_as_module_attr_or_object(tiny_model: Any) -> None:
    model, tok = tiny_model
    check_evaluator(f"{PLUGINS}:TextLoss", model, tok)
    check_evaluator(plugins.TextLoss("To make bread, mix the flour."), model, tok)


BROKEN_EVALUATORS = [
    (plugins.Noisy(), "is not deterministic: it scored"),
    (plugins.NanScore(), "returned the score nan; the score must be a finite float"),
    (plugins.BareFloat(), "returned float, not an EvalResult"),
    (plugins.NanMetric(), "metric 'perplexity' is inf, not a finite float"),
    (plugins.IntMetricName(), "metric name 1 is not a str"),
    (plugins.Raises(), "raised ValueError: no items left after filtering"),
    (plugins.Trains(), r"changed the model's weights \(\d+ tensors"),
    (plugins.LeavesTrainMode(), "left the model in train mode"),
    (plugins.Freezes(), r"changed requires_grad of \d+ parameters"),
    (plugins.AddsBuffer(), r"changed the model's layout \(added \['eval_cache'\]"),
    (plugins.HoldsALock(), "does not pickle .*open files, connections or models inside evaluate"),
    (plugins.ForgetsWhenPickled("Stir the soup."), "but its pickled copy scores"),
    (
        f"{PLUGINS}:not_an_evaluator",
        "'tests.testing.plugins:not_an_evaluator': not an object with evaluate",
    ),
    (LossTask("/nonexistent/heldout.jsonl"), r"check\(\) fails: .*not found"),
]


@pytest.mark.parametrize(
    ("evaluator", "message"),
    [pytest.param(e, m, id=type(e).__name__) for e, m in BROKEN_EVALUATORS],
)
def test_a_broken_evaluator_fails_with_its_message(
    evaluator: Any, message: str, scratch: tuple[Any, Any]
) -> None:
    model, tok = scratch
    with _fails(message) as info:
        check_evaluator(evaluator, model, tok)
    assert "\n" not in str(info.value)
    assert not model.training  # the modes are put back even when a check fails


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_builtin_samplers_keep_the_contract(name: str) -> None:
    check_sampler(name)


def test_a_user_sampler_given_as_module_attr_or_function() -> None:
    check_sampler(f"{PLUGINS}:good_sampler", trials=10)
    check_sampler(plugins.good_sampler, trials=10)


def test_a_user_sampler_is_checked_as_it_declares_itself() -> None:
    check_sampler(f"{PLUGINS}:declared_sampler", trials=10)  # attached, on log-ratios first
    check_sampler(plugins.DeclaringSamplerClass, trials=10)
    check_sampler(f"{PLUGINS}:one_objective_declared", trials=10)  # not run on two objectives


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("not_a_sampler", "returned dict, not an optuna.samplers.BaseSampler"),
        ("keyword_only", r"factory\(seed, startup\) raised TypeError"),
        ("no_such_factory", "plugins' has no attribute 'no_such_factory'"),
        ("ignores_seed", "is not reproducible: with seed 0, trial 2 proposed"),
        ("out_of_range", r"proposed w_a=2\.0 at trial 2, outside its range \[1e-12, 1\.0\]"),
        ("nan_proposals", r"failed at trial 2 of a 20-trial study \(ValueError"),
        ("drops_fixed_params", "replaced an enqueued trial's parameters"),
        ("one_at_a_time", "failed with 2 trials asked before either was told .*still running"),
        ("fails_once_fitted", r"failed at trial 10 of a 20-trial study \(ArithmeticError"),
        ("tell_fails", "failed when trial 4 of a 20-trial study was told"),
        ("stores_objects", "stored 'fit' on trial 1 as dict, which is not JSON"),
        ("wrong_capabilities", "its capabilities are a dict; declare a mixopt SamplerCapabil"),
        (
            "needs_simplex_without_attach",
            r"declares needs_simplex, but its RandomSampler has no attach\(simplex\) method",
        ),
        ("attach_fails", r"attach\(simplex\) raised AttributeError"),
        (
            "one_objective_undeclared",
            "failed at trial 1 of a study with two objectives .*declare multi_objective=False",
        ),
    ],
)
def test_a_broken_sampler_fails_with_its_message(factory: str, message: str) -> None:
    with _fails(message) as info:
        check_sampler(f"{PLUGINS}:{factory}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(SCORERS.builtins()))
def test_builtin_scorers_keep_the_contract(name: str, request: pytest.FixtureRequest) -> None:
    # the model scorers read the tiny model; the others tokenize with a tokenizer of their own
    reads = uses_model(SCORERS.get(name)())
    check_scorer(name, model=str(request.getfixturevalue("tiny_model_dir")) if reads else None)


def test_a_user_scorer_given_as_module_attr_or_class() -> None:
    check_scorer(f"{PLUGINS}:Shouting", settings={"floor": 0.1})
    check_scorer(plugins.Shouting)
    with pytest.raises(ValueError, match="declares uses_model: give check_scorer a small"):
        check_scorer(plugins.ReadsTheModel)


@pytest.mark.parametrize(
    ("scorer", "settings", "message"),
    [
        ("NoSettings", {}, r"its NoSettings has no settings\(\) method"),
        ("ForgetsASetting", {"floor": 0.5}, r"settings\(\) leaves out 'floor'"),
        ("SettingsNotJson", {}, r"settings\(\) is not JSON \(TypeError"),
        ("OneShort", {}, "gave 11 scores for 12 text records; give one finite number"),
        ("NanForEmpty", {}, "gave 12 scores for 12 text records, not all finite"),
        ("Unseeded", {}, "is not deterministic: text record 0 scored"),
        ("NeedsAPrompt", {}, r"raised KeyError.* on text records \(declare needs_instruction\?\)"),
        ("FlagNotBool", {}, "uses_model is 'no', not a bool"),
        ("Shouting", {"ceiling": 1}, r"building it with \{'ceiling': 1\} raised TypeError"),
        ("Shoutin", {}, "has no attribute 'Shoutin'"),
    ],
)
def test_a_broken_scorer_fails_with_its_message(
    scorer: str, settings: dict[str, Any], message: str
) -> None:
    with _fails(message) as info:
        check_scorer(f"{PLUGINS}:{scorer}", settings=settings)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(CLUSTERERS.builtins()))
def test_builtin_clusterers_keep_the_contract(name: str) -> None:
    check_clusterer(name)


def test_a_user_clusterer_given_as_module_attr_or_class() -> None:
    check_clusterer(f"{PLUGINS}:_KMeans")
    check_clusterer(plugins._KMeans, seed=3)


@pytest.mark.parametrize(
    ("clusterer", "message"),
    [
        ("OneCluster", "put two of 3 well-separated blobs in one cluster at k=3"),
        ("RowIndex", r"split a well-separated blob of 30 rows \(10 in its largest cluster\)"),
        ("UnseededNames", "is not reproducible: with seed 0 it gave two different labelings"),
        ("FromOne", r"labels of int64 from 1 to 3 at k=3; give integers in \[0, 3\)"),
        ("AListOfLabels", "fit_predict returned list for 90 rows; return a numpy array"),
        ("FloatLabels", r"labels of float64 .*give integers in \[0, 3\)"),
        ("NormalizesInPlace", "changed the embeddings it was given; work on a copy"),
        ("IgnoresK", r"from 0 to 2 at k=2; give integers in \[0, 2\)"),
        ("NeedsOptions", "calling it with no arguments raised TypeError"),
        ("Kmeans", "has no attribute 'Kmeans'"),
    ],
)
def test_a_broken_clusterer_fails_with_its_message(clusterer: str, message: str) -> None:
    with _fails(message) as info:
        check_clusterer(f"{PLUGINS}:{clusterer}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", PLANS.names())
def test_builtin_plans_keep_the_contract(name: str, tiny_model_dir: Path) -> None:
    check_plan(name, tiny_model_dir)


BROKEN_PLANS = [
    (plugins.NanPlan(), "'fake' gave the score nan for a trial run to its end"),
    (plugins.NoisyPlan(), "'fake' scored .*, then .* from a pickled copy of the same trial"),
    (
        plugins.NeverStops(),
        "declares intermediate scores but ran on when report\\(\\) returned False",
    ),
    (plugins.HidesItsScores(), r"declares intermediate scores but gave \[\] and reported \[\]"),
    (plugins.SaysTooLittle(), "first_line gave 'trains once'; give None, or \\(line, fields\\)"),
    (plugins.RefusesEverything(), "refuses two toy domains at budget 1000: no domains suit me"),
    (plugins.NotAPlan(), "is not a trial plan; give it name, takes_evaluator"),
    ("one-pas", "Unknown trial plan 'one-pas'. Did you mean: one-pass?"),
    (f"{PLUGINS}:NanPlan", "'fake' gave the score nan"),  # module:attr, built as --plan builds it
]


@pytest.mark.parametrize(
    ("plan", "message"),
    [pytest.param(p, m, id=p if isinstance(p, str) else type(p).__name__) for p, m in BROKEN_PLANS],
)
def test_a_broken_plan_fails_with_its_message(plan: Any, message: str, tokenizer_dir: Path) -> None:
    # each fails before any training: a tokenizer is model enough
    with _fails(message) as info:
        check_plan(plan, tokenizer_dir)
    assert "\n" not in str(info.value)
