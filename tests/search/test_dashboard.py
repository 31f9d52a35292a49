"""The study storage opens in optuna-dashboard: its own WSGI app, served on 127.0.0.1 as
``optuna-dashboard sqlite:///OUT/study.db`` serves it, answers its JSON API with every trial,
its mixture and its result."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def dashboard(three_domain_study: Path) -> Iterator[str]:
    """The dashboard's app on a free local port (the server its CLI runs: wsgiref, threaded)."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from optuna_dashboard import wsgi

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:  # no access log in the test output
            pass

    app = wsgi(f"sqlite:///{three_domain_study / 'study.db'}")
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_the_dashboard_lists_the_study_and_its_trials(dashboard: str) -> None:
    studies = _get(f"{dashboard}/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["mixopt"]
    assert studies[0]["directions"] == ["maximize"]

    detail = _get(f"{dashboard}/api/studies/{studies[0]['study_id']}")
    trials = detail["trials"]
    assert len(trials) == 5  # 2 baselines + 3 searched; confirmation runs live in MLflow only
    assert all(t["state"] == "Complete" and len(t["values"]) == 1 for t in trials)
    for t in trials:
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        assert {"role", "mixture", "train", "result"} <= set(attrs)
        # the dashboard shows attributes as text (JSON); the mixture's shares sum to 1
        mixture = json.loads(attrs["mixture"])
        assert set(mixture) == {"finance", "cooking", "sports"}
        assert sum(mixture.values()) == pytest.approx(1.0)
        # and each share again as a number: a sortable column of the trials table
        assert {d: float(attrs[f"share.{d}"]) for d in mixture} == pytest.approx(mixture, abs=1e-6)
        # the sampler's coordinates, which the dashboard plots: baselines' too
        assert {p["name"] for p in t["params"]} == {"w_finance", "w_cooking", "w_sports"}
    roles = sorted({a["key"]: a["value"] for a in t["user_attrs"]}["role"] for t in trials)
    assert roles == ["baseline:natural", "baseline:uniform", "search", "search", "search"]
    # the best trial the dashboard marks is the study's best
    best = max(trials, key=lambda t: float(t["values"][0]))
    assert [b["number"] for b in detail["best_trials"]] == [best["number"]]
    assert detail["union_search_space"], "parameters to plot"
    sortable = {a["key"] for a in detail["union_user_attrs"] if a["sortable"]}
    assert {"share.finance", "share.cooking", "share.sports"} <= sortable
