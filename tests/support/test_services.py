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

    from tests.support.services import ServiceUnavailable, postgres_server, unavailable

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
        unavailable(str(exc))
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=2):
        pass  # stopped
    assert set(glob.glob(f"{tempfile.gettempdir()}/mixopt-pg-*")) == before  # its data removed
    assert not (tmp_path / "postgres.pid").exists()


def test_a_missing_service_skips_or_fails_where_ci_requires_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Skipped with its reason on a developer's machine; failed, with the same reason, where
    ``$MIXOPT_REQUIRE_SERVICES`` is set (as ``.ci/run`` sets it)."""
    from tests.support.services import REQUIRE_SERVICES, unavailable

    for value in ("", "0"):
        monkeypatch.setenv(REQUIRE_SERVICES, value)
        with pytest.raises(pytest.skip.Exception, match="no browser"):
            unavailable("no browser")
    monkeypatch.setenv(REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match=r"^no browser \(\$MIXOPT_REQUIRE_SERVICES"):
        unavailable("no browser")
    assert f"export {REQUIRE_SERVICES}=1" in (Path(__file__).parents[2] / ".ci" / "run").read_text()
