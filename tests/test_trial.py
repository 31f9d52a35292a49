from __future__ import annotations

import dataclasses
import json
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mixopt.data import load_domains, tokenize_domains
from mixopt.errors import ConfigError
from mixopt.evaluators import EvalSuite, EvaluationError, LossTask, NamedTask, make_evaluator
from mixopt.plans import OnePass
from mixopt.testing import make_records, write_domains
from mixopt.training import TrainConfig
from mixopt.trial import TrialSpec, run_trial

TRAIN = TrainConfig(seq_len=64, batch_size=8, learning_rate=3e-3, checkpoints=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Any, EvalSuite]:
    from mixopt.models import load_tokenizer

    root = tmp_path_factory.mktemp("trial")
    domains = tokenize_domains(
        load_domains(write_domains(root, {"finance": "jsonl", "cooking": "jsonl"}, n=1500, seed=3)),
        load_tokenizer(str(tiny_model_dir)),
        root / "cache",
    )
    for kind in ("finance", "cooking"):
        (root / f"{kind}.eval.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in make_records(kind, 60, seed=4242))
        )
    suite = EvalSuite(
        (
            NamedTask("finance", LossTask(str(root / "finance.eval.jsonl"))),
            NamedTask("cooking", LossTask(str(root / "cooking.eval.jsonl"))),
        ),
        intermediate="finance",
    )
    return domains, suite


@pytest.mark.slow
def test_training_on_a_domain_helps_that_domain_most(
    setup: tuple[Any, EvalSuite], tiny_model_dir: Path
) -> None:
    domains, suite = setup
    on_a = run_trial(
        TrialSpec(
            str(tiny_model_dir),
            domains,
            {"finance": 1.0},
            12_000,
            suite,
            TRAIN,
            seed=1,
            plan=OnePass(),
        )
    )
    on_b = run_trial(
        TrialSpec(
            str(tiny_model_dir),
            domains,
            {"cooking": 1.0},
            12_000,
            suite,
            TRAIN,
            seed=1,
            plan=OnePass(),
        )
    )
    a_gain = on_b.metrics["finance/loss"] - on_a.metrics["finance/loss"]
    b_gain = on_a.metrics["cooking/loss"] - on_b.metrics["cooking/loss"]
    assert a_gain > 0.02 and b_gain > 0.02  # each domain's own data lowers its held-out loss most
    assert on_a.domains["finance"]["tokens"] == 12_000 and on_a.domains["cooking"]["tokens"] == 0
    assert [s for s, _ in on_a.intermediate] == [8, 16, 24] and on_a.steps == on_a.total_steps == 24
    assert on_a.intermediate[-1][1] == pytest.approx(on_a.metrics["finance/score"])
    assert set(on_a.timings) == {"data_s", "load_s", "train_s", "eval_s", "wait_s", "total_s"}
    assert on_a.timings["total_s"] >= on_a.timings["train_s"] > 0 and on_a.tokens_per_second > 0
    assert len(on_a.loss_curve) == 24


@pytest.mark.slow
def test_same_seed_same_result_and_early_stop(
    setup: tuple[Any, EvalSuite], tiny_model_dir: Path
) -> None:
    domains, suite = setup
    spec = TrialSpec(
        str(tiny_model_dir),
        domains,
        {"finance": 0.5, "cooking": 0.5},
        6_000,
        suite,
        TRAIN,
        seed=7,
        plan=OnePass(),
    )
    first, again = run_trial(spec), run_trial(pickle.loads(pickle.dumps(spec)))
    assert first.score == pytest.approx(again.score, abs=1e-6)
    assert [v for _, v in first.loss_curve] == pytest.approx([v for _, v in again.loss_curve])
    calls: list[tuple[int, int, float | None]] = []

    def stop_after_first(step: int, total: int, score: float | None) -> bool:
        calls.append((step, total, score))
        return False

    stopped = run_trial(spec, report=stop_after_first)
    assert (
        stopped.stopped_early and stopped.score is None and stopped.steps == 4 and len(calls) == 1
    )
    assert calls[0][2] == pytest.approx(stopped.intermediate[0][1])


@pytest.mark.slow
def test_waiting_at_a_checkpoint_is_not_training_time(
    setup: tuple[Any, EvalSuite], tiny_model_dir: Path
) -> None:
    """The time a report takes (Ray Tune's round trip, under Ray) is the trial's wait_s, apart
    from train_s, and the training speed does not count it."""
    import time

    domains, suite = setup
    spec = TrialSpec(
        str(tiny_model_dir), domains, {"finance": 1.0}, 6_000, suite, TRAIN, seed=7, plan=OnePass()
    )
    result = run_trial(spec, report=lambda step, total, score: time.sleep(0.3))
    t = result.timings
    assert (
        len(result.intermediate) == 3
        and t["wait_s"] >= 0.9
        and t["total_s"] >= t["train_s"] + t["wait_s"]
    )
    assert result.tokens_per_second == pytest.approx(6_000 / t["train_s"])


USER = textwrap.dedent(
    """
    import weakref
    from mixopt.evaluators import EvalResult
    models = []

    class Remember:
        def evaluate(self, model, tokenizer):
            models.append(weakref.ref(model))
            return EvalResult(0.0, {})

    class Explodes:
        def evaluate(self, model, tokenizer):
            raise ValueError("bad eval")
    """
)


def test_trial_frees_its_model_and_reports_evaluator_errors(
    setup: tuple[Any, EvalSuite],
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    domains, _ = setup
    (tmp_path / "trial_user_evals.py").write_text(USER)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = TrialSpec(
        str(tiny_model_dir),
        domains,
        {"finance": 1.0},
        1_000,
        make_evaluator("trial_user_evals:Remember"),
        TRAIN,
        plan=OnePass(),
    )
    run_trial(spec)
    module = importlib.import_module("trial_user_evals")
    assert (
        len(module.models) == 1 and module.models[0]() is None
    )  # nothing holds the model after the trial
    with pytest.raises(EvaluationError, match="evaluator 'Explodes' failed: ValueError: bad eval"):
        run_trial(
            TrialSpec(
                str(tiny_model_dir),
                domains,
                {"finance": 1.0},
                1_000,
                make_evaluator("trial_user_evals:Explodes"),
                TRAIN,
                plan=OnePass(),
            )
        )


def test_missing_model_is_a_clear_error(setup: tuple[Any, EvalSuite], tmp_path: Path) -> None:
    domains, suite = setup
    with pytest.raises(ConfigError, match="no such local folder"):
        run_trial(
            TrialSpec(
                str(tmp_path / "no-model"),
                domains,
                {"finance": 1.0},
                1_000,
                suite,
                TRAIN,
                plan=OnePass(),
            )
        )


def test_pickled_weights_need_permission(
    setup: tuple[Any, EvalSuite], tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    from mixopt.models import load_model

    pickled = (
        tmp_path / "pickled"
    )  # a checkpoint with pickled weights only (transformers 5 saves none)
    pickled.mkdir()
    shutil.copy(tiny_model_dir / "config.json", pickled / "config.json")
    torch.save(
        AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict(),
        pickled / "pytorch_model.bin",
    )
    with pytest.raises(ConfigError, match="cannot load it"):
        load_model(str(pickled))
    assert load_model(str(pickled), allow_pickle=True) is not None


@pytest.mark.slow
def test_a_leave_one_out_trial_trains_once_per_left_out_domain_without_it(
    setup: tuple[Any, EvalSuite], tiny_model_dir: Path
) -> None:
    """Each pass trains on the mixture without its domain (that domain's share spread over the
    rest, the budget exact) and scores the left-out domain's held-out loss; the score is the
    mean of minus those losses."""
    from mixopt.plans import HELDOUT_RECORDS, LeaveOneOut

    domains, _ = setup
    spec = TrialSpec(
        str(tiny_model_dir),
        domains,
        {"finance": 0.7, "cooking": 0.3},
        2_000,
        None,
        TRAIN,
        seed=2,
        plan=LeaveOneOut(),
    )
    result = run_trial(spec)
    assert list(result.passes) == ["finance", "cooking"] and result.intermediate == ()
    for held, other in (("finance", "cooking"), ("cooking", "finance")):
        done = result.passes[held]
        assert done["mixture"] == {other: 1.0} and held not in done["domains"]
        assert done["domains"][other]["tokens"] == 2_000  # the whole budget, on the domain left in
        assert done["loss"] == result.metrics[f"lodo/{held}/loss"] > 0
        assert done["timings"]["train_s"] > 0 and done["steps"] == 4
    assert result.score == pytest.approx(
        -(result.passes["finance"]["loss"] + result.passes["cooking"]["loss"]) / 2
    )
    assert (
        result.steps == 8
        and result.domains["finance"]["tokens"] == result.domains["cooking"]["tokens"] == 2_000
    )
    # the held-out records are the same whatever the trial's seed (and the domain's own only)
    again = run_trial(dataclasses.replace(spec, plan=LeaveOneOut(("cooking",)), seed=3))
    assert list(again.passes) == ["cooking"] and again.score == -again.passes["cooking"]["loss"]
    rows = LeaveOneOut().suite(domains[0], 64).tasks[0].evaluator.rows()  # type: ignore[attr-defined]
    assert len(rows) == HELDOUT_RECORDS and sorted(set(rows.tolist())) == rows.tolist()
    assert sorted(result.metrics) == ["lodo/cooking/loss", "lodo/finance/loss"]
