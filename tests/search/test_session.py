"""What a resumed study hands MLflow to catch up on (after its tracking server was down)."""

from __future__ import annotations

from pathlib import Path

from mixopt.search.orchestration.session import _to_track
from mixopt.study.summary import CONFIRM_BASE, Confirmation
from tests.study.test_store import _store


def test_confirmation_runs_are_relogged_at_the_budget_they_trained_on(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add_confirmation(Confirmation("uniform", 7, 0, 1.5, {}, 4_000))  # at the study's budget
    store.add_confirmation(Confirmation("uniform", 8, 0, 1.4, {}, 16_000))  # a transfer check's run
    runs = _to_track(store)
    assert set(runs) == {t.number for t in store.trials()} | {CONFIRM_BASE, CONFIRM_BASE + 1}
    own, there = runs[CONFIRM_BASE].result["params"], runs[CONFIRM_BASE + 1].result["params"]
    assert (own["budget"], own["seed"], there["budget"], there["seed"]) == (4_000, 7, 16_000, 8)
    assert runs[CONFIRM_BASE + 1].mixture == {"a": 0.5, "b": 0.5}  # the uniform baseline's
