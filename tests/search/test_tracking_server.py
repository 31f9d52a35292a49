"""A study tracked by a real ``mlflow server`` (its own backend store and artifact root,
started by tests.support.services), which dies mid-study: the study goes on, says so, and a
resume once the server is back logs everything it missed. Checked through MLflow's client."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.search.test_resume import OPTIONS
from tests.support.runners import FaultyTrial

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class ServerKillingTrial:
    """A trivial trial (FaultyTrial's numbering of calls) whose call ``at`` first SIGKILLs the
    process group whose id is in ``pid_file``: the tracking server, as a lost node would."""

    folder: str
    pid_file: str
    at: int

    def __call__(self, spec: Any, report: Any = None) -> Any:
        if len(list(Path(self.folder).glob("call-*"))) == self.at:
            os.killpg(int(Path(self.pid_file).read_text()), signal.SIGKILL)
        return FaultyTrial(self.folder)(spec, report)


def test_tracking_server_down_mid_study_then_resume_logs_what_it_missed(
    study_inputs: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    from mixopt import optimize_mixture, resume_search
    from mixopt.study.store import StudyStore
    from tests.support.services import free_port, mlflow_server

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a dead server fails at once
    out, calls, server = tmp_path / "study", str(tmp_path / "calls"), tmp_path / "mlflow"
    port = free_port()
    options = {**OPTIONS, "executor": "inprocess", "confirm": 1}
    with mlflow_server(server, port=port) as url:
        # the server dies as searched trial 2 starts (calls 0-1 are the baselines)
        runner = ServerKillingTrial(calls, str(server / "mlflow-server.pid"), at=3)
        result = optimize_mixture(
            study_inputs["model"],
            study_inputs["domains"],
            study_inputs["evaluator"],
            runner=runner,
            **options,
            tracking_uri=url,
            out=str(out),
            quiet=True,
        )
    # every trial ran and was kept; the folder says where tracking stopped
    assert result.counts()["complete"] == 6 and (out / "best_mixture.json").is_file()
    behind = json.loads((out / StudyStore.TRACKING_BEHIND).read_text())
    assert behind["tracking_uri"] == url and behind["error"].startswith("MlflowException")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    warning = next(e for e in events if e["event"] == "warning" and "MLflow" in e["text"])
    assert f"mixopt search --resume {out}" in warning["text"]

    with mlflow_server(server, port=port) as url:  # back, with the store it had
        resume_search(out, quiet=True, runner=FaultyTrial(calls))
        client = MlflowClient(url)
        exp = client.get_experiment_by_name("mixopt")
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        artifacts = {a.path for a in client.list_artifacts(_parent(runs).info.run_id)}
        report = {a.path for a in client.list_artifacts(_parent(runs).info.run_id, "report")}
    assert not (out / StudyStore.TRACKING_BEHIND).exists()
    assert "View run" not in capfd.readouterr().out  # MLflow's two URL lines a run, on stdout

    parent = _parent(runs)
    assert (
        parent.info.status == "FINISHED" and parent.data.metrics["best_score"] == result.best_score
    )
    assert parent.data.params["tracking_uri"] == url
    assert {
        "best_mixture.json",
        "results.json",
        "report",
    } <= artifacts and "report/index.html" in report
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert not [r for r in children if r.info.status == "RUNNING"]
    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}")
    done = [r for r in children if r.data.tags.get("mixopt.state") == "COMPLETE"]
    searched = [r for r in done if not r.data.tags["mixopt.role"].startswith("confirm:")]
    # one finished run per completed trial, with its figures, its mixture as params
    assert sorted(int(r.data.tags["mixopt.trial_number"]) for r in searched) == [
        t.number for t in study.trials
    ]
    for run in searched:
        trial = study.trials[int(run.data.tags["mixopt.trial_number"])]
        assert run.info.status == "FINISHED" and run.data.metrics["score"] == trial.value
        assert {
            k: float(v) for k, v in run.data.params.items() if k.startswith("share.")
        } == {  # 6 decimals
            f"share.{d}": pytest.approx(v, abs=1e-6) for d, v in trial.user_attrs["mixture"].items()
        }
    race = json.loads((out / "best_mixture.json").read_text())["race"]
    assert len(done) - len(searched) == len(race["entrants"])  # the race's runs, on 1 seed
    assert sum(r.data.tags.get("mixopt.best") == "true" for r in searched) == 1


def _parent(runs: list[Any]) -> Any:
    return next(r for r in runs if r.data.tags.get("mixopt.kind") == "study")
