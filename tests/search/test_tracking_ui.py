"""The study in the MLflow UI, as a user sees it: ``mlflow server`` on 127.0.0.1 over the
study's own store, opened in headless Chromium (Debian's package, driven by Playwright).
Screenshots go to ``$MIXOPT_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the checkout)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright downloads no browser here

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _browser() -> None:
    """Skipped without Debian's Chromium (failed where $MIXOPT_REQUIRE_SERVICES is set)."""
    if not CHROMIUM.exists():
        unavailable(f"no browser: {CHROMIUM} is missing (apt-get install chromium)")


# headless in a closed network: no sandbox (root in a container), and none of Chromium's own
# background connections (refused here, and each refusal stalls the page)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# MLflow 3 opens on its GenAI views (traces) unless asked for model training
ML_VIEW = "workflowType=machine_learning"
# the React app renders its first page in a few seconds; 30 s leaves room for a loaded machine
RENDER_MS = 30_000


def _artifacts() -> Path:
    root = (
        os.environ.get("MIXOPT_TEST_ARTIFACTS")
        or Path(__file__).resolve().parents[2] / "test-artifacts"
    )
    out = Path(root) / "mlflow-ui"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def mlflow_server(three_domain_study: Path, tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` over a copy of the study's store (the study is shared with other
    tests, and a server may write to its store)."""
    from tests.support.services import mlflow_server

    shutil.copy(three_domain_study / "mlflow.db", tmp_path / "mlflow.db")
    with mlflow_server(tmp_path, artifacts=three_domain_study / "mlartifacts") as url:
        yield url


def _study_runs(out: Path) -> tuple[str, Any, list[Any]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mixopt")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent = next(r for r in runs if r.data.tags.get("mixopt.kind") == "study")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return exp.experiment_id, parent, children


def test_the_mlflow_ui_shows_the_study(three_domain_study: Path, mlflow_server: str) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    exp_id, parent, children = _study_runs(three_domain_study)
    best = next(r for r in children if r.data.tags.get("mixopt.best") == "true")
    shots = _artifacts()
    print(f"\nscreenshots of the MLflow UI: {shots}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.set_default_timeout(RENDER_MS)
            # expect() keeps its own 5 s limit, which page.set_default_timeout does not change
            expect.set_options(timeout=RENDER_MS)
            # the runs table, parent run first
            page.goto(f"{mlflow_server}/#/experiments/{exp_id}/runs?{ML_VIEW}")
            expect(page.get_by_text(parent.info.run_name, exact=True)).to_be_visible()
            with contextlib.suppress(PlaywrightError):  # the assistant panel, where it opens
                page.get_by_label("Close", exact=True).click(timeout=2_000)
            # the child runs are nested under the parent: expand it
            page.locator("button[data-component-id*='runnamecellrenderer']").first.click()
            for run in children:
                expect(page.get_by_text(run.info.run_name, exact=True)).to_be_visible()
            _widen_name_column(page)  # for the screenshot: whole names, not "trial-000-basel..."
            page.screenshot(path=shots / "1-runs.png", full_page=True)

            # the best trial's page: its mixture (params), its score, the best tag
            page.goto(f"{mlflow_server}/#/experiments/{exp_id}/runs/{best.info.run_id}?{ML_VIEW}")
            expect(page.get_by_text(best.info.run_name, exact=True).first).to_be_visible()
            for name in ("share.finance", "share.cooking", "share.sports", "score", "mixopt.best"):
                expect(page.get_by_text(name, exact=True).first).to_be_visible()
            share = best.data.params["share.finance"]
            expect(page.get_by_text(share, exact=True).first).to_be_visible()
            page.screenshot(path=shots / "2-best-trial.png", full_page=True)

            # the parent run's page: the study's answer in its description
            page.goto(f"{mlflow_server}/#/experiments/{exp_id}/runs/{parent.info.run_id}?{ML_VIEW}")
            expect(page.get_by_text(f"Best trial: {best.info.run_name}").first).to_be_visible()
            expect(page.get_by_text("best_score", exact=True).first).to_be_visible()
            page.screenshot(path=shots / "3-study.png", full_page=True)
        finally:
            browser.close()


def _widen_name_column(page: Any) -> None:
    """Drag the run-name column's right edge 160 px to the right."""
    header = page.locator(".ag-header-cell[col-id='attributes.`Run Name`']").first
    box = header.bounding_box()
    if box is None:
        return
    x, y = box["x"] + box["width"] - 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 160, y, steps=8)
    page.mouse.up()
