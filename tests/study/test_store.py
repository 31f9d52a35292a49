"""The study store: the folder's files and the Optuna study, written and read in one place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixopt.errors import ConfigError
from mixopt.study.record import StudyRecord
from mixopt.study.store import StudyStore
from mixopt.study.summary import Confirmation
from mixopt.study.trials import Attr, write_proposal


def _params(mix: dict[str, float]) -> dict[str, float]:
    return {f"u_{k}": v for k, v in mix.items()}


def _store(tmp_path: Path) -> StudyStore:
    import optuna

    store = StudyStore(tmp_path / "s")
    store.folder.mkdir()
    study = store.optuna(optuna.samplers.RandomSampler(seed=0), create=True)
    store.enqueue_baselines(
        [("uniform", {"a": 0.5, "b": 0.5}), ("natural", {"a": 0.8, "b": 0.2})], _params
    )
    store.enqueue_baselines([("uniform", {"a": 0.5, "b": 0.5})], _params)  # idempotent
    for value in (1.0, 2.0, 3.0, 2.5):
        trial = study.ask({f"u_{k}": optuna.distributions.FloatDistribution(0, 1) for k in "ab"})
        mix = trial.user_attrs.get(Attr.MIXTURE) or {
            "a": trial.params["u_a"],
            "b": trial.params["u_b"],
        }
        write_proposal(
            trial, trial.user_attrs.get(Attr.ROLE, "search"), mix, {"learning_rate": value / 1000}
        )
        trial.set_user_attr(Attr.RESULT, {"score": value, "metrics": {"m": value}})
        study.tell(trial, value)
    return store


def test_trials_roles_and_the_best(tmp_path: Path) -> None:
    store = _store(tmp_path)
    trials = store.trials()
    assert [t.role for t in trials] == ["baseline:uniform", "baseline:natural", "search", "search"]
    assert [t.baseline for t in trials] == ["uniform", "natural", None, None]
    assert trials[0].mixture == {"a": 0.5, "b": 0.5} and trials[2].train == {"learning_rate": 0.003}
    assert all(t.seconds is not None and t.seconds >= 0 for t in trials)
    summary = store.summary()
    assert (
        summary.best_number == 2 and summary.best is not None and summary.best.search_score == 3.0
    )
    assert (
        summary.lift["uniform"].value == pytest.approx(2.0) and summary.lift["uniform"].seeds == 0
    )


def test_confirmations_pair_seeds_and_survive_a_torn_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for name, source, seed, score in (
        ("best", 2, 1, 2.9),
        ("best", 2, 2, 3.1),
        ("uniform", 0, 1, 0.9),
        ("uniform", 0, 2, 1.3),
    ):
        store.add_confirmation(
            Confirmation(name, seed, source, score, {"learning_rate": 0.003}, 4_000)
        )
    # recorded twice (a resumed study): counts once
    store.add_confirmation(Confirmation("best", 1, 2, 2.9, {}, 4_000))
    with open(store.path(store.CONFIRM), "a") as fh:
        fh.write('{"name": "natural", "se')  # a killed process's last line
    summary = store.summary()
    assert (
        summary.best is not None
        and summary.best.confirmed == (2.9, 3.1)
        and summary.best.score == pytest.approx(3.0)
    )
    lift = summary.lift["uniform"]
    assert lift.value == pytest.approx(3.0 - 1.1) and lift.seeds == 2
    assert lift.spread == pytest.approx(0.1414, abs=1e-3)  # std of (2.0, 1.8)
    assert summary.lift["natural"].seeds == 0  # natural was not confirmed: its search score


def test_an_interrupted_trial_is_queued_again_and_not_counted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    study = store.optuna()
    left = study.ask()  # a killed driver's trial, left RUNNING
    write_proposal(left, "search", {"a": 0.1, "b": 0.9}, {})
    assert store.requeue_interrupted() == 1
    assert len(store.trials()) == 4 + 1  # the interrupted one is out, its re-queued copy is in
    again = study.ask()
    assert again.user_attrs[Attr.MIXTURE] == {"a": 0.1, "b": 0.9}


def test_a_folder_without_a_study(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a mixopt study folder"):
        StudyStore(tmp_path).read_record()
    with pytest.raises(ConfigError, match=r"storage .* is missing"):
        StudyStore(tmp_path).optuna()
    assert not (tmp_path / "study.db").exists()
    StudyStore(tmp_path).write_record(StudyRecord({}, {}, "0.1.0"))
    # the folder's own SQLite holds one Optuna study, under the name every such folder uses
    written = json.loads((tmp_path / "study.json").read_text())
    assert (written["spec"], written["study_name"]) == ({}, "mixopt")
    assert StudyStore(tmp_path).read_record() == StudyRecord({}, {}, "0.1.0", study_name="mixopt")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "not a study record$"),
        ('{"spec": {}, "space": {}}', r"not a study record \(no mixopt_version\)$"),
        ('{"spec": [], "space": {}, "mixopt_version": "0"}', "spec and space must be mappings"),
    ],
)
def test_a_study_json_that_is_not_a_record_is_refused_in_one_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "study.json").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        StudyStore(tmp_path).read_record()


def test_sqlite_stores_journal_ahead_and_survive_a_reopen(tmp_path: Path) -> None:
    """Both SQLite stores of a folder (Optuna's and MLflow's) write a WAL journal, synced at
    checkpoints (a commit syncs no disk), and what was committed reads back from a new
    connection, as after a killed driver."""
    import sqlite3

    from mixopt.search.tracking.tracker import MlflowTracker

    store = _store(tmp_path)
    with store.optuna()._storage._backend.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (FULL is 2)
    tracker = MlflowTracker(store.tracking_uri(None), store.path(store.ARTIFACTS))
    tracker.start_study("s", {"a": 1}, {}, None)
    tracker.start_trial(0, "search", {"share.a": 0.5})
    tracker.finish_trial(0, "COMPLETE", {"score": 1.0, "metrics": {}})
    for name in (store.DB, store.TRACKING):
        with sqlite3.connect(store.path(name)) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",), name
    assert [t.score for t in StudyStore(store.folder).trials()][-1] == 2.5
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string="tags.`mixopt.trial_number` = '0'"
    )
    assert runs[0].info.status == "FINISHED"


def test_a_folded_log_leaves_the_file_whole(tmp_path: Path) -> None:
    import shutil
    import sqlite3

    from mixopt.study.store import fold_wal, wal_journal

    db = tmp_path / "s.db"
    writer = sqlite3.connect(db)
    wal_journal(writer)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    writer.commit()  # in the log, not yet in the file; the connection stays open, as a pool's would
    assert (tmp_path / "s.db-wal").stat().st_size > 0
    fold_wal(db)
    shutil.copy(db, tmp_path / "copy.db")  # the file alone, as a user copies it
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    writer.close()


def test_a_finished_study_folds_its_logs(three_domain_study: Path) -> None:
    for name in ("study.db", "mlflow.db"):
        log = three_domain_study / f"{name}-wal"
        assert not log.exists() or log.stat().st_size == 0, name
