"""A new study's MLflow store is a copy of an empty one MLflow migrated once: MLflow opens it
as the store it would have created itself, schema, stamp and default experiment alike."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mixopt.search.tracking.template import seed_store


def _schema(path: Path) -> tuple[dict[str, list[str]], list[tuple[str]]]:
    """Every table and index, as the sorted lines of its CREATE statement (MLflow's own
    migrations write a table's constraints in an order that varies from run to run), and the
    migration stamp."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        stamp = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return {
        name: sorted(line.strip().rstrip(",") for line in sql.splitlines()) for name, sql in rows
    }, stamp


def test_a_seeded_store_is_the_store_mlflow_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    made = tmp_path / "made.db"
    MlflowClient(f"sqlite:///{made}").search_experiments()  # MLflow's own creation
    seeded = tmp_path / "study" / "mlflow.db"
    assert seed_store(seeded)
    assert _schema(seeded) == _schema(made)  # the same tables, indexes and migration stamp

    client = MlflowClient(f"sqlite:///{seeded}")
    default = client.get_experiment("0")  # created on opening, with this client's artifact root
    assert default.name == "Default"
    assert (
        default.artifact_location
        == MlflowClient(f"sqlite:///{made}").get_experiment("0").artifact_location
    )
    exp = client.create_experiment("mixopt", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "score", 0.5)
    assert MlflowClient(f"sqlite:///{seeded}").get_run(run.info.run_id).data.metrics == {
        "score": 0.5
    }


def test_a_store_that_exists_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    path.write_bytes(b"someone's store")
    assert not seed_store(path)
    assert path.read_bytes() == b"someone's store"
    # a second seeding finds the first's store: it stays as it is
    other = tmp_path / "other.db"
    assert seed_store(other) and not seed_store(other)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
