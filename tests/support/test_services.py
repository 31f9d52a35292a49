"""The servers tests and benchmarks start for themselves (tests.support.services)."""

from __future__ import annotations

import glob
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest


def test_postgres_server_holds_a_study_then_leaves_nothing(tmp_path: Path) -> None:
    import optuna

    from tests.support.services import ServiceUnavailable, postgres_server

    before = set(glob.glob(f"{tempfile.gettempdir()}/mixopt-pg-*"))
    try:
        with postgres_server(tmp_path) as url:
            assert url.startswith("postgresql://")
            study = optuna.create_study(storage=url, study_name="s", direction="maximize")
            study.add_trial(optuna.trial.create_trial(value=1.5))
            # a second connection (as a resumed driver would open) reads it back
            assert optuna.load_study(study_name="s", storage=url).best_value == 1.5
            host, port = urlsplit(url).hostname, urlsplit(url).port
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=2):
        pass  # stopped
    assert set(glob.glob(f"{tempfile.gettempdir()}/mixopt-pg-*")) == before  # its data removed
    assert not (tmp_path / "postgres.pid").exists()
