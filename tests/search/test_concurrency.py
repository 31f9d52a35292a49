"""Two trials at a time on one machine: the shared Optuna storage and MLflow store stay
whole (only the driver writes to them), every trial is recorded once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from tests.support.runners import WaitingTrial

pytestmark = pytest.mark.slow


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A cluster of two CPUs for this test's study (the suite's shared one declares one)."""
    from tests.support.services import ray_cluster

    with ray_cluster(cpus=2) as address:
        monkeypatch.setenv("RAY_ADDRESS", address)
        yield address


def test_fifty_trials_two_at_a_time_are_each_recorded_once(
    study_inputs: dict[str, Any], tmp_path: Path, two_cpus: str
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    out = tmp_path / "study"
    # trials of 0.2 s: long enough that two overlap, short enough for a 50-trial study
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        trials=50,
        concurrency=2,
        confirm=0,
        sampler="random",
        out=str(out),
        quiet=True,
        runner=WaitingTrial(0.2),
    )
    assert result.counts() == {"trials": 52, "complete": 52}

    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.number for t in study.trials] == list(range(52))
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    roles = [t.user_attrs["role"] for t in study.trials]
    assert roles.count("search") == 50 and {"baseline:uniform", "baseline:natural"} <= set(roles)

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=1000
    )
    parent = next(r for r in runs if r.data.tags.get("mixopt.kind") == "study")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(runs) == 53
    numbers = sorted(int(r.data.tags["mixopt.trial_number"]) for r in children)
    assert numbers == list(range(52))  # one run per trial, no number twice
    for run in children:
        trial = study.trials[int(run.data.tags["mixopt.trial_number"])]
        assert run.info.status == "FINISHED" and run.data.tags["mixopt.state"] == "COMPLETE"
        assert run.data.metrics["score"] == trial.value
        shares = {
            k.removeprefix("share."): float(v)
            for k, v in run.data.params.items()
            if k.startswith("share.")
        }
        assert shares == pytest.approx(trial.user_attrs["mixture"], abs=1e-6)

    # the trials did run side by side: many started before the one before them had ended
    overlaps = sum(
        b.datetime_start < a.datetime_complete
        for a, b in zip(study.trials, study.trials[1:], strict=False)
    )
    assert overlaps >= 10
    saved = json.loads((out / "results.json").read_text())
    assert saved["counts"] == {"trials": 52, "complete": 52}
