"""Studies in a real PostgreSQL (Debian's server, started for each test by
tests.support.services): the SQLite kill test's checks against ``--storage postgresql://``,
two studies sharing one database, and no password on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.search.test_resume import OPTIONS, _drive, _outcome, reference  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


def test_postgres_study_killed_mid_trial_resumes_with_nothing_lost(
    study_inputs: dict[str, Any],
    reference: dict[str, Any],  # noqa: F811
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    from mixopt import resume_search
    from mixopt.errors import ConfigError
    from mixopt.io import holds_password
    from mixopt.study.store import StudyStore
    from tests.support.runners import FaultyTrial

    password = urlsplit(postgres_url).password
    assert password
    out, calls = tmp_path / "study", str(tmp_path / "calls")
    options = {**OPTIONS, "executor": "inprocess", "storage": postgres_url}
    settings = {
        "out": str(out),
        "calls": calls,
        "ready": str(tmp_path / "ready"),
        "model": study_inputs["model"],
        "domains": study_inputs["domains"],
        "evaluator": study_inputs["evaluator"],
        "options": options,
    }
    _drive({**settings, "point": "trial", "at": 3}, tmp_path)  # during searched trial 2
    record = json.loads((out / "study.json").read_text())
    stored = record["spec"]["output"]["storage"]
    assert stored == postgres_url.replace(f":{password}@", "@")  # the same database, no password
    assert not (out / "study.db").exists()  # nothing in SQLite beside it
    # resumed with the URL given again (its password), growing confirmation runs on the way
    result = resume_search(
        out, quiet=True, runner=FaultyTrial(calls), storage=postgres_url, confirm=1
    )
    outcome = _outcome(out)
    assert (outcome["trials"], outcome["counts"]) == (
        reference["trials"],
        reference["counts"],
    )  # as if never killed
    assert len(result.best.confirmed) == 1

    study = optuna.load_study(study_name=record["study_name"], storage=postgres_url)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 6  # 2 baselines + 4 searched, each exactly once
    assert len({json.dumps(t.user_attrs["mixture"], sort_keys=True) for t in complete}) == 6
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    assert len(interrupted) == 1 and interrupted[0].state.name == "FAIL"

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("mixopt").experiment_id], max_results=1000
    )
    assert not [r for r in runs if r.info.status == "RUNNING"]
    finished = [r for r in runs if r.data.tags.get("mixopt.state") == "COMPLETE"]
    searched = [r for r in finished if not r.data.tags["mixopt.role"].startswith("confirm:")]
    assert sorted(int(r.data.tags["mixopt.trial_number"]) for r in searched) == sorted(
        t.number for t in complete
    )
    race = json.loads((out / "best_mixture.json").read_text())["race"]
    assert len(finished) - len(searched) == len(race["entrants"])  # the race's runs, on 1 seed
    parent = next(r for r in runs if r.data.tags.get("mixopt.kind") == "study")
    assert parent.data.params["storage"] == stored
    assert (out / "report" / "index.html").is_file()

    # nowhere in the folder (its files, MLflow's store, the report) is the password
    for path in (p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert password.encode() not in data, path
        assert not holds_password(data.decode("utf-8", "replace")), path

    # from study.json alone, the study opens where PostgreSQL's clients find the password
    with pytest.raises(ConfigError, match="no password supplied"):
        StudyStore(out, stored).optuna()
    monkeypatch.setenv("PGPASSWORD", password)
    assert len(StudyStore(out, stored).optuna().trials) == len(study.trials)

    # a second study in the same database stays apart from the first
    other = StudyStore(tmp_path / "other", postgres_url)
    other.folder.mkdir()
    other.optuna(create=True).add_trial(optuna.trial.create_trial(value=0.0))
    assert other.study_name != record["study_name"]
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(postgres_url))
    assert names == sorted([record["study_name"], other.study_name])
    assert len(StudyStore(out, postgres_url).optuna().trials) == len(study.trials)
    assert len(other.optuna().trials) == 1
