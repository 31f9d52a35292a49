"""Whole studies: real Optuna (SQLite), real Ray Tune (local, started by mixopt), real MLflow
(SQLite), peft LoRA on the tiny model."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from mixopt.cli import main
from mixopt.errors import ConfigError
from tests.conftest import FAST_TRAIN

pytestmark = pytest.mark.slow


def _runs(out: Path) -> tuple[Any, list[Any]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mixopt")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("mixopt.kind") == "study"]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    return parents[0], children


def test_api_study_end_to_end(study_inputs: dict[str, Any], tmp_path: Path) -> None:
    import optuna

    out = tmp_path / "study"
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="4k",
        train=FAST_TRAIN,
        trials=3,
        concurrency=2,
        sampler="tpe",
        confirm=1,
        seed=3,
        out=str(out),
        baselines={"all_finance": {"finance": 1.0}},
        early_stop="off",
    )
    # baselines always present, plus the user's; each scored and confirmed on a fresh seed
    assert set(result.baselines) == {"uniform", "natural", "all_finance"}
    assert (
        all(len(c.confirmed) == 1 for c in result.baselines.values())
        and len(result.best.confirmed) == 1
    )
    assert result.baselines["uniform"].mixture == pytest.approx(
        {"finance": 1 / 3, "cooking": 1 / 3, "sports": 1 / 3}
    )
    assert set(result.lift) == {"uniform", "natural", "all_finance"}
    assert result.lift["uniform"] == pytest.approx(
        result.best.score - result.baselines["uniform"].score
    )
    roles = sorted(t.role for t in result.trials)
    assert roles == [
        "baseline:all_finance",
        "baseline:natural",
        "baseline:uniform",
        "search",
        "search",
        "search",
    ]
    assert all(t.state == "COMPLETE" for t in result.trials)
    # the held-out finance loss is the score: the finance-only baseline should be near the top
    assert result.baselines["all_finance"].search_score > result.baselines["uniform"].search_score

    saved = json.loads((out / "best_mixture.json").read_text())
    assert saved["best_mixture"] == pytest.approx(result.best_mixture)
    for key in (
        "mixopt_version",
        "seed",
        "spec",
        "tokenizer",
        "lift",
        "baselines",
        "budget",
        "space",
        "domains",
    ):
        assert key in saved
    assert saved["seed"] == 3 and saved["budget"] == 4000
    assert {"torch", "transformers", "peft", "optuna", "ray"} <= set(saved["versions"])

    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 6 and all(t.user_attrs["result"]["domains"] for t in study.trials)
    assert (
        sum(
            t.user_attrs["result"]["domains"][d]["tokens"]
            for t in study.trials[:1]
            for d in ("finance", "cooking", "sports")
        )
        == 4000
    )

    parent, children = _runs(out)
    assert parent.info.status == "FINISHED" and parent.data.params["budget"] == "4000"
    assert "lift_over_uniform" in parent.data.metrics
    trials = [r for r in children if not r.data.tags["mixopt.role"].startswith("confirm")]
    confirms = [r for r in children if r.data.tags["mixopt.role"].startswith("confirm")]
    best_role = next(t.role for t in result.trials if t.number == saved["best_trial"])
    # the race: the 3 baselines and the top distinct searched trials, each on the 1 fresh seed
    race = saved["race"]
    assert race["seed_budget"] == 1 and race["over"] and race["seeds"] == [4]
    assert {"uniform", "natural", "all_finance"} <= set(race["entrants"])
    assert len(trials) == 6 and len(confirms) == len(race["entrants"]) > 3
    # one seed: every lift stated, none declared beyond noise
    assert {v["verdict"] for v in saved["lifts"].values()} == {"within noise"}
    assert all(v["low"] is None and v["seeds"] == 1 for v in saved["lifts"].values())
    assert "one seed: no spread" in saved["verdict"] and saved["verdict"] == result.verdict
    assert parent.data.tags["mixopt.verdict"] == saved["verdict"]
    assert parent.data.tags["mixopt.verdict.uniform"] == "within noise"
    for run in trials:
        assert run.info.status == "FINISHED" and run.info.run_name.startswith("trial-")
        assert {"share.finance", "share.cooking", "share.sports", "seed", "budget"} <= set(
            run.data.params
        )
        assert {
            "score",
            "finance_loss/loss",
            "tokens.finance",
            "epochs.finance",
            "time.train_s",
            "train_loss",
        } <= set(run.data.metrics)
    assert sum(r.data.tags.get("mixopt.best") == "true" for r in children) == 1
    # names that say what each run is; the parent carries the answer
    best_run = next(r for r in children if r.data.tags.get("mixopt.best") == "true")
    assert best_run.info.run_name == (
        f"trial-{saved['best_trial']:03d}"
        if best_role == "search"
        else f"trial-{saved['best_trial']:03d}-{best_role.replace(':', '-')}"
    )
    assert sorted(r.info.run_name for r in trials if r.data.tags["mixopt.role"] != "search") == [
        "trial-000-baseline-uniform",
        "trial-001-baseline-natural",
        "trial-002-baseline-all_finance",
    ]
    assert {r.info.run_name for r in confirms} >= {
        "confirm-uniform-seed4",
        "confirm-natural-seed4",
        "confirm-all_finance-seed4",
    }
    assert parent.info.run_name == "study"  # what --out named it
    # one metric name holds every run's score: one column of the runs table shows and sorts all
    scored = [r for r in children if r.data.tags.get("mixopt.state") == "COMPLETE"]
    assert len(scored) >= len(race["entrants"]) and all("score" in r.data.metrics for r in scored)
    assert "score" in parent.data.metrics
    assert parent.data.metrics["score"] == pytest.approx(saved["score"])
    assert parent.data.tags["mixopt.best_trial"] == best_run.info.run_name
    assert parent.data.tags["mixopt.best_run_id"] == best_run.info.run_id
    assert f"Best trial: {best_run.info.run_name}" in parent.data.tags["mlflow.note.content"]
    assert {d: parent.data.metrics[f"best.share.{d}"] for d in saved["best_mixture"]} == (
        pytest.approx(saved["best_mixture"])
    )


def test_trials_zero_scores_only_the_baselines(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt import resume_search
    from mixopt.data import load_domains

    specs = list(load_domains(study_inputs["domains"]))  # domains as objects, not a file
    out = tmp_path / "s"
    result = optimize_mixture(
        study_inputs["model"],
        specs,
        study_inputs["evaluator"],
        budget="2k",
        train=FAST_TRAIN,
        trials=0,
        confirm=0,
        out=str(out),
        quiet=True,
    )
    assert sorted(t.role for t in result.trials) == ["baseline:natural", "baseline:uniform"]
    assert result.best.confirmed == () and result.best.score == max(
        t.score for t in result.trials if t.score is not None
    )
    # given as objects, the domains were saved with the study, so it resumes from its folder
    assert (out / "domains.json").exists()
    again = resume_search(out, quiet=True)
    assert again.best_mixture == result.best_mixture and len(again.trials) == 2


FLAKY = textwrap.dedent(
    """
    import os
    from mixopt.evaluators import EvalResult, LossTask

    class FailsOnce:
        '''Scores the finance loss, but the first trial to evaluate raises (a real fault).'''
        def __init__(self, flag, data):
            self.flag, self.data = flag, data
        def evaluate(self, model, tokenizer):
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL)
                os.close(fd)
            except FileExistsError:
                return LossTask(self.data).evaluate(model, tokenizer)
            raise RuntimeError("injected evaluator fault")
    """
)


def test_a_failing_trial_is_recorded_and_the_study_goes_on(
    study_inputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flaky_evals.py").write_text(FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        f"tasks:\n  - {{name: flaky, kind: 'flaky_evals:FailsOnce', flag: '{tmp_path / 'flag'}', "
        f"data: '{study_inputs['root'] / 'finance.jsonl'}'}}\n"
    )
    out = tmp_path / "study"
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        str(tasks),
        budget="2k",
        train=FAST_TRAIN,
        trials=2,
        concurrency=1,
        confirm=0,
        out=str(out),
        quiet=True,
    )
    states = [t.state for t in result.trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 3
    failed = next(t for t in result.trials if t.state == "FAIL")
    assert (
        failed.error
        == "EvaluationError: evaluator 'flaky' failed: RuntimeError: injected evaluator fault"
    )
    _, children = _runs(out)
    bad = [r for r in children if r.data.tags["mixopt.state"] == "FAIL"]
    assert (
        len(bad) == 1
        and bad[0].info.status == "FAILED"
        and "injected evaluator fault" in bad[0].data.tags["mixopt.fail_reason"]
    )


def test_asha_prunes_poor_trials_but_never_a_baseline(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    # sequential searched trials, in a known order: all finance, mostly finance, then all
    # cooking and all sports, whose held-out finance loss at the first cut is the worst seen
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="4k",
        train={**FAST_TRAIN, "checkpoints": 4},
        trials=4,
        concurrency=1,
        confirm=0,
        early_stop="on",
        sampler="tests.search.fixed_sampler:make",
        baselines={"cooking_only": {"cooking": 1.0}},
        out=str(tmp_path / "s"),
        quiet=True,
    )
    searched = sorted((t for t in result.trials if t.role == "search"), key=lambda t: t.number)
    assert [max(t.mixture, key=t.mixture.get) for t in searched] == [
        "finance",
        "finance",
        "cooking",
        "sports",
    ]
    assert searched[0].state == "COMPLETE"
    assert searched[2].state == "PRUNED" and searched[3].state == "PRUNED"
    pruned_score = searched[2].score  # the last intermediate score, kept
    assert pruned_score is not None and pruned_score < searched[0].score
    # baselines run to the end, however poor (the cooking-only one is as poor as the pruned)
    assert all(t.state == "COMPLETE" for t in result.trials if t.role.startswith("baseline:"))
    assert result.baselines["cooking_only"].search_score is not None


def test_cli_study(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    mix = tmp_path / "today.json"
    mix.write_text(json.dumps({"finance": 0.5, "cooking": 0.5}))
    args = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--budget",
        "2k",
        "--model",
        study_inputs["model"],
        "--eval",
        study_inputs["evaluator"],
        "--trials",
        "2",
        "--out",
        str(out),
        "--seq-len",
        "64",
        "--batch-size",
        "8",
        "--confirm",
        "1",
        "--sampler",
        "random",
        "--baseline",
        str(mix),
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    text = captured.out
    # the sentence first: the answer, and each lift on one fresh seed (no spread)
    headline = text.strip().splitlines()[0]
    assert headline.startswith(
        ("Trial ", "No mixture beat uniform beyond noise: ", "The answer is")
    )
    assert "one seed: no spread" in headline and "vs today" in headline
    for word in (
        "uniform",
        "natural",
        "today",
        "lift of answer",
        "95% interval",
        "mlflow ui --backend-store-uri sqlite:///",
    ):
        assert word in text
    # progress lines go to stderr (3 baselines + 2 searched trials), the results to stdout
    assert "[  5/5]" in captured.err and "[  5/5]" not in text
    # the same folder again: refused, it holds a study
    assert main(args) == 2
    assert "already holds this study" in capsys.readouterr().err
    # resuming a finished study runs nothing and reports the same best
    _, before = _runs(out)
    assert main(["search", "--resume", str(out), "--quiet"]) == 0
    assert headline in capsys.readouterr().out
    # one parent run still (checked by _runs), and no child run added twice
    _, after = _runs(out)
    assert sorted(r.info.run_id for r in after) == sorted(r.info.run_id for r in before)
    assert sum(r.data.tags.get("mixopt.best") == "true" for r in after) == 1


def test_bad_search_input_writes_nothing(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    status = main(
        [
            "search",
            "--domains",
            study_inputs["domains"],
            "--budget",
            "50q",
            "--model",
            study_inputs["model"],
            "--eval",
            study_inputs["evaluator"],
            "--out",
            str(out),
        ]
    )
    assert status == 2 and "not a token count" in capsys.readouterr().err and not out.exists()
    status = main(
        [
            "search",
            "--domains",
            study_inputs["domains"],
            "--budget",
            "1M",
            "--model",
            study_inputs["model"],
            "--eval",
            str(tmp_path / "missing.yaml"),
            "--out",
            str(out),
            "--sampler",
            "tpe",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "task file not found" in err and not out.exists()
    assert main(["search", "--resume", str(tmp_path)]) == 2
    assert "not a mixopt study folder" in capsys.readouterr().err
    with pytest.raises(
        ConfigError, match=re.escape("unknown option 'trails'. Did you mean: trials?")
    ):
        optimize_mixture(
            study_inputs["model"], study_inputs["domains"], study_inputs["evaluator"], trails=3
        )


def test_a_runner_replaces_the_trial(study_inputs: dict[str, Any], tmp_path: Path) -> None:
    from tests.support.runners import WaitingTrial

    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=2,
        confirm=0,
        out=str(tmp_path / "s"),
        runner=WaitingTrial(0.0),
        quiet=True,
    )
    assert [t.state for t in result.trials] == ["COMPLETE"] * 4
    for t in result.trials:  # the runner's score (closeness to uniform), not a trained model's
        assert t.score == pytest.approx(-sum((v - 1 / 3) ** 2 for v in t.mixture.values()))
    assert result.best_mixture == pytest.approx(result.baselines["uniform"].mixture)
