"""A new study's MLflow SQLite store, copied from an empty one MLflow migrated once.

MLflow creates a SQLite store by running every migration of its schema, one ``ALTER TABLE``
batch after another: 2 to 5 s on a 2-core machine (``mlflow`` 3.17), paid by every new study
before its first trial. The result is the same empty schema each time, so mixopt has MLflow
build it once per MLflow version (its own migrations, on a file of its own) and copies that
file into each new study's folder. The copy holds the tables and their migration stamp and no
experiment: MLflow, opening it, checks the stamp against its own (a mismatch is its usual
error) and creates its default experiment with the study's own artifact root, as it does on
a store it has just migrated. Anything unexpected falls back to MLflow's own creation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["seed_store"]

_TEMPLATE: dict[str, bytes] = {}  # MLflow version -> the empty store's bytes, for this process


def seed_store(path: str | Path) -> bool:
    """Put an empty migrated MLflow store at ``path`` if nothing is there; True if it did.
    Kept in ``$MIXOPT_CACHE_DIR/mlflow`` (and in memory) per MLflow version."""
    from mixopt.io import file_mode

    path = Path(path)
    if path.exists():
        return False
    try:
        data = _template()
    except Exception:  # an MLflow whose internals moved: it creates the store itself
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, file_mode())  # as any file the study writes
        os.link(tmp, path)  # never over a store another process created meanwhile
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def _template() -> bytes:
    from importlib import metadata

    version = metadata.version("mlflow")
    if version in _TEMPLATE:
        return _TEMPLATE[version]
    from mixopt.data.tokenize import default_cache_dir

    cached = default_cache_dir() / "mlflow" / f"empty-store-{version}.db"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
            fresh = Path(tmp) / "store.db"
            _migrate(fresh)
            os.replace(fresh, cached)  # whole or not at all, also with two processes at once
    data = cached.read_bytes()
    _TEMPLATE[version] = data
    return data


def _migrate(path: Path) -> None:
    """MLflow's own migrations on an empty SQLite file, nothing else (no experiment)."""
    import logging

    import sqlalchemy
    from mlflow.store.db.utils import _all_tables_exist, _initialize_tables

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its table-creation chatter
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        _initialize_tables(engine)
        if not _all_tables_exist(engine):
            raise RuntimeError("MLflow's migrations left tables missing")
    finally:
        engine.dispose()
