"""Faults injected for real inside Ray workers (tests.support.runners.FaultyTrial): each
failed trial is recorded with its reason in Optuna, Ray and MLflow, the study goes on, a
dead worker's trial runs again, and a study where everything fails stops early."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from mixopt.cli import build_parser
from mixopt.errors import ConfigError, MixoptError, error_line
from mixopt.search.orchestration.faults import (
    NonFiniteScoreError,
    StudyFailedError,
    TimeLimit,
    TrialTimeoutError,
    check_finite,
    fail_limit,
)
from mixopt.study.spec import ExecutionSpec, StudySpec
from tests.support.runners import FaultyTrial


def test_time_limit_stops_a_running_loop_in_its_thread() -> None:
    import threading

    never = threading.Event()
    steps = 0
    limit = pytest.raises(TrialTimeoutError, match=r"^the trial ran past its time limit of 0.2 s$")
    with limit, TimeLimit(0.2):
        while not never.is_set():  # a loop that would run forever
            steps += 1
            never.wait(0.01)
    assert steps > 0
    with TimeLimit(None), TimeLimit(60):  # no limit, or a limit not reached: nothing happens
        steps = -1
    assert steps == -1


def test_a_trial_that_swallowed_its_time_limit_still_fails_when_it_ends() -> None:
    import time

    caught = 0
    with pytest.raises(TrialTimeoutError, match=r"time limit of 0\.05 s"), TimeLimit(0.05):
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:  # library code that catches every exception, the time limit's included
                time.sleep(0.01)
            except Exception:
                caught += 1
    assert caught == 1


def test_reasons_scores_and_limits() -> None:
    assert error_line(RuntimeError("boom\nmore lines")) == "RuntimeError: boom"
    assert error_line(KeyError()) == "KeyError"
    check_finite(1.5)
    check_finite(None)  # a trial stopped early has no final score
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(NonFiniteScoreError):
            check_finite(bad)
    assert [fail_limit(c) for c in (1, 2, 3, 8)] == [3, 3, 3, 8]
    assert issubclass(StudyFailedError, MixoptError)  # the CLI prints it on one line, exit 2


def test_time_limit_and_retries_settings() -> None:
    args = build_parser().parse_args(["search", "--trial-timeout", "90", "--max-retries", "2"])
    assert args.trial_timeout == 90.0 and args.max_retries == 2
    spec = StudySpec().replace(budget=100, trial_timeout=90.0, max_retries=2)
    assert StudySpec.from_dict(spec.to_dict()) == spec  # kept with the study for resume
    assert ExecutionSpec().max_retries == 1 and ExecutionSpec().trial_timeout is None
    for bad in ({"trial_timeout": 0}, {"trial_timeout": float("nan")}, {"max_retries": -1}):
        with pytest.raises(ConfigError):
            ExecutionSpec(**bad)


def _optuna(out: Path) -> list[Any]:
    import optuna

    return optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}").trials


def _mlflow(out: Path) -> tuple[Any, dict[int, Any]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=1000
    )
    parent = next(r for r in runs if r.data.tags.get("mixopt.kind") == "study")
    children = {int(r.data.tags["mixopt.trial_number"]): r for r in runs if r is not parent}
    assert len(children) == len(runs) - 1  # one run per trial, none twice
    return parent, children


# call n (in the order trials start, one at a time) suffers FAULTS[n]
FAULTS = (
    None,
    "train_error",
    "eval_error",
    "nan",
    "inf",
    "slow",
    "oom",
    "kill_worker",
    None,  # trial 7: its worker dies, the re-run completes
    "kill_worker",
    "kill_worker",  # trial 8: dies twice, out of retries
    None,
)
REASONS = {
    1: "RuntimeError: injected training fault in call 1",
    2: "RuntimeError: injected evaluation fault in call 2",
    3: "NonFiniteScoreError: the score is nan (a diverged fine-tune?)",
    4: "NonFiniteScoreError: the score is inf (a diverged fine-tune?)",
    5: "TrialTimeoutError: the trial ran past its time limit of 20 s",
    6: "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (injected fault)",
    8: "WorkerDied: the trial's worker process died (2 attempts)",
}


@pytest.mark.slow
def test_each_fault_fails_its_trial_only_with_its_reason(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    out, calls = tmp_path / "study", tmp_path / "calls"
    # the limit is far above a quick trial's time on a loaded CI machine (where a worker's
    # start after the stopped trial took over 5 s), far below the slow fault's 600 s
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=8,
        concurrency=1,
        confirm=0,
        early_stop="off",
        sampler="random",
        out=str(out),
        quiet=True,
        trial_timeout=20,
        max_retries=1,
        runner=FaultyTrial(str(calls), FAULTS),
    )
    # the study went on past every fault, and reports the trials that worked
    assert {t.number: t.error for t in result.trials if t.state == "FAIL"} == REASONS
    assert sorted(t.number for t in result.trials if t.state == "COMPLETE") == [0, 7, 9]
    assert result.best_score is not None
    assert (calls / "started-5").exists() and (calls / "stopped-5").exists()  # really stopped

    trials = {t.number: t for t in _optuna(out)}
    assert len(trials) == 10
    for number, reason in REASONS.items():
        assert trials[number].state.name == "FAIL" and trials[number].value is None
        assert trials[number].user_attrs["fail_reason"] == reason
    assert trials[7].state.name == "COMPLETE" and trials[7].user_attrs["retries"] == 1
    assert trials[8].user_attrs["retries"] == 1 and "retries" not in trials[9].user_attrs

    parent, runs = _mlflow(out)
    assert parent.info.status == "FINISHED" and sorted(runs) == list(range(10))
    for number, run in runs.items():
        if number in REASONS:
            assert (
                run.info.status == "FAILED"
                and run.data.tags["mixopt.fail_reason"] == REASONS[number]
            )
            assert "score" not in run.data.metrics
        else:
            assert run.info.status == "FINISHED" and "score" in run.data.metrics
    assert runs[7].data.tags["mixopt.retries"] == "1" and runs[8].data.tags["mixopt.retries"] == "1"

    # Ray Tune keeps each failed attempt's error: the trials' own faults with their reason
    errors = [p.read_text() for p in (out / "ray").glob("study-*/*/error.txt")]
    assert len(errors) == len(REASONS) + 2  # and the three dead workers (7 once, 8 twice)
    for number in (1, 2, 3, 5, 6):
        assert sum(REASONS[number].split(": ", 1)[1] in e for e in errors) == 1

    saved = json.loads((out / "results.json").read_text())
    assert saved["counts"] == {"trials": 10, "complete": 3, "fail": 7}


@pytest.mark.slow
def test_a_study_where_every_trial_fails_stops_early(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "study"
    with pytest.raises(StudyFailedError) as caught:
        optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            study_inputs["evaluator"],
            budget="2k",
            trials=20,
            concurrency=2,
            confirm=0,
            early_stop="off",
            out=str(out),
            quiet=True,
            runner=FaultyTrial(str(tmp_path / "calls"), ("train_error",) * 30),
        )
    message = str(caught.value)
    assert "\n" not in message and message.startswith("the first 3 trials all failed")
    assert "(first failure: RuntimeError: injected training fault in call" in message
    assert f"--resume {out}" in message

    trials = _optuna(out)
    # stopped after max(3, concurrency) failures; a trial already running when it stopped
    # may finish (and fail) too, but nothing new starts: far from the 22 it would have run
    assert 3 <= len(trials) <= 4 and all(t.state.name == "FAIL" for t in trials)
    parent, runs = _mlflow(out)
    assert parent.info.status == "FAILED" and "all failed" in parent.data.tags["mixopt.fail_reason"]
    assert all(r.info.status == "FAILED" for r in runs.values()) and len(runs) == len(trials)
    saved = json.loads((out / "results.json").read_text())
    assert saved["counts"]["fail"] == len(trials)
