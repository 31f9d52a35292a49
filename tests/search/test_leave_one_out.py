"""``mixopt search --domains D --budget B`` as users first meet it: no --eval (the leave-one-out
estimate, said on the study's first line), no --model ($MIXOPT_MODEL, else the default hub
model, which offline stops with one line naming --model). A real study, in-process."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from tests.conftest import FAST_TRAIN, once


@pytest.fixture(scope="module")
def lodo_run(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A study with neither --model ($MIXOPT_MODEL names the tiny model) nor --eval, leaving
    out two of its three domains in turn: 2 baselines and 1 searched trial, then the best and
    the baselines on 1 fresh seed; then resumed, finished, as it is."""

    def make(root: Path) -> dict[str, Any]:
        train = [
            f"--{k.replace('_', '-')}={v}" for k, v in FAST_TRAIN.items() if k != "checkpoints"
        ]
        argv = [
            "search",
            "--domains",
            study_inputs["domains"],
            "--budget",
            "1k",
            "--lodo-domains",
            "finance,cooking",
            "--trials",
            "1",
            "--confirm",
            "1",
            "--sampler",
            "random",
            "--executor",
            "inprocess",
            "--cache-dir",
            str(root / "cache"),
            "--out",
            str(root / "study"),
            *train,
        ]
        stdout, stderr = io.StringIO(), io.StringIO()
        old = os.environ.get("MIXOPT_MODEL")
        os.environ["MIXOPT_MODEL"] = study_inputs["model"]
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                status = main(argv)
                resumed = main(["search", "--resume", str(root / "study"), "--quiet"])
        finally:
            os.environ.pop("MIXOPT_MODEL") if old is None else os.environ.__setitem__(
                "MIXOPT_MODEL", old
            )
        return {
            "status": status,
            "resumed": resumed,
            "out": root / "study",
            "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(),
        }

    return once(tmp_path_factory, "lodo-study", make)


@pytest.mark.slow
def test_a_study_without_eval_or_model_runs_leave_one_out_and_says_so_first(
    lodo_run: dict[str, Any], study_inputs: dict[str, Any]
) -> None:
    assert lodo_run["status"] == 0 and lodo_run["resumed"] == 0, lodo_run["stderr"][-2000:]
    lines = [
        line
        for line in lodo_run["stderr"].splitlines()
        if not line.startswith(("tokenizing", "finance:", "cooking:", "sports:"))
    ]
    assert lines[0].startswith("leave-one-out over 2 domains: each trial trains 2 times"), lines[:3]
    assert "early stopping is off" in lines[0]
    assert lines[0].endswith(
        "; 1 searched trial: 2 trainings, and 2 for each baseline and confirmation run"
    ), lines[0]
    record = json.loads((lodo_run["out"] / "study.json").read_text())
    assert (
        record["spec"]["model"]["name"] == study_inputs["model"]
    )  # resumable whatever $MIXOPT_MODEL is then
    evaluator = record["spec"]["scoring"]
    assert (evaluator["evaluator"], evaluator["plan"], evaluator["lodo_domains"]) == (
        None,
        "auto",
        ["finance", "cooking"],
    )
    said = [json.loads(e) for e in (lodo_run["out"] / "events.jsonl").read_text().splitlines()]
    plan = next(e for e in said if e["event"] == "trial_plan")
    assert (plan["plan"], plan["domains"]) == ("leave-one-out", ["finance", "cooking"])


@pytest.mark.slow
def test_its_trials_confirmations_results_and_report_hold_each_left_out_loss(
    lodo_run: dict[str, Any],
) -> None:
    out = lodo_run["out"]
    results = json.loads((out / "results.json").read_text())
    trials = [t for t in results["trials"] if t["state"] == "COMPLETE"]
    assert len(trials) == 3
    for t in trials:
        losses = [t["metrics"][f"lodo/{d}/loss"] for d in ("finance", "cooking")]
        assert t["score"] == pytest.approx(-sum(losses) / 2)
    from mixopt.study.store import StudyStore

    for t in StudyStore(out).trials():  # each pass's training set, as the trial recorded it
        assert set(t.result["passes"]) == {"finance", "cooking"}
        assert set(t.result["passes"]["finance"]["domains"]) == {"cooking", "sports"}
    answer = json.loads((out / "best_mixture.json").read_text())
    assert len(answer["confirmed_scores"]) == 1 and answer["confirmed_with"]
    page = (out / "report" / "index.html").read_text()
    assert "lodo/finance/loss" in page and "lodo/cooking/loss" in page
    import mlflow

    client = mlflow.MlflowClient(answer_uri := f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`mixopt.role` = 'search'"
    )
    assert runs and all("lodo/finance/loss" in r.data.metrics for r in runs), answer_uri


@pytest.mark.slow
def test_every_place_that_shows_the_lift_says_it_is_a_left_out_estimate(
    lodo_run: dict[str, Any],
) -> None:
    """Without --eval the lift is measured on left-out training domains, not the user's
    target: stdout's sentence and table, ``best_mixture.json``, the report, MLflow's tags and
    the event log say so, and the first lines show the smallest out-of-domain set."""
    from mixopt.plans.leave_one_out import ESTIMATE

    out, lead = lodo_run["out"], ESTIMATE[0].upper() + ESTIMATE[1:] + ": "
    stdout = lodo_run["stdout"]
    sentence = next(line for line in stdout.splitlines() if line.strip())
    assert sentence.startswith(lead), sentence
    assert f"Scores ({ESTIMATE}; " in stdout
    first = [
        line for line in lodo_run["stderr"].splitlines() if line.startswith("no out-of-domain")
    ]
    assert first and "--eval target.jsonl" in first[0] and "kind: loss" in first[0], first
    answer = json.loads((out / "best_mixture.json").read_text())
    assert answer["estimate"] == ESTIMATE and answer["verdict"].startswith(lead)
    results = json.loads((out / "results.json").read_text())
    assert results["answer"]["verdict"].startswith(lead)
    page = (out / "report" / "index.html").read_text()
    assert f"<p class='lift'>{lead}" in page
    said = [json.loads(e) for e in (out / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "no_target" and e["estimate"] == ESTIMATE for e in said)
    done = next(e for e in said if e["event"] == "study_finished")
    assert done["verdict"].startswith(lead)
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    parents = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`mixopt.best_trial` != ''"
    )
    assert parents and all(r.data.tags["mixopt.verdict"].startswith(lead) for r in parents)


def test_without_model_the_default_offline_is_one_line_naming_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixopt.study.spec import DEFAULT_MODEL
    from mixopt.testing import write_domains

    monkeypatch.delenv("MIXOPT_MODEL", raising=False)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # as in every test: the hub cannot be reached
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "cooking": "jsonl"}, n=20)
    status = main(
        [
            "search",
            "--domains",
            str(domains),
            "--budget",
            "2k",
            "--out",
            str(tmp_path / "o"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1, lines
    assert f"the default base model {DEFAULT_MODEL!r} cannot be loaded" in lines[0]
    assert "give --model" in lines[0] and "MIXOPT_MODEL" in lines[0]
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()


def test_without_network_a_hub_model_is_refused_at_once_naming_the_offline_way(
    tmp_path: Path,
) -> None:
    """HF_HUB_OFFLINE unset, as a new user's shell has it, and the hub unreachable: the cache
    alone is asked (the hub client would retry for over a minute first)."""
    import subprocess
    import sys

    from mixopt.testing import write_domains
    from tests.support.services import free_port

    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "cooking": "jsonl"}, n=20)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MIXOPT_MODEL")}
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    argv = [sys.executable, "-m", "mixopt", "search", "--domains", str(domains), "--budget", "2k"]
    argv += ["--model", "someorg/some-model", "--out", str(tmp_path / "o"), "--quiet"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "mixopt: error: model 'someorg/some-model': not in the Hugging Face cache, and the hub "
        "cannot be reached (offline): give a local folder (`mixopt tiny-model DIR` builds a "
        "small model offline)"
    )
    assert not (tmp_path / "o").exists()
