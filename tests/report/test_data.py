"""What the report reads from a study folder agrees with what the study saved."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from mixopt.errors import ConfigError
from mixopt.report import gather

pytestmark = pytest.mark.slow


def test_scores_lifts_and_spreads_match_the_study(three_domain_study: Path) -> None:
    data = gather(three_domain_study)
    saved = json.loads((three_domain_study / "best_mixture.json").read_text())
    assert data.finished and data.domains == ("finance", "cooking", "sports")
    assert data.best_number == saved["best_trial"] and data.best is not None
    assert data.best.mixture == pytest.approx(saved["best_mixture"])
    assert data.best.score == pytest.approx(saved["score"])
    for name in ("uniform", "natural"):
        assert data.baselines[name].score == pytest.approx(saved["baselines"][name]["score"])
        assert data.lift[name].value == pytest.approx(saved["lift"][name])
        assert data.lift[name].seeds == 2
    # the spread: std of the per-seed differences, from confirm.jsonl
    rows = [
        json.loads(line) for line in (three_domain_study / "confirm.jsonl").read_text().splitlines()
    ]
    by = {(r["source"], r["seed"]): r["score"] for r in rows}
    base = data.baseline_numbers["uniform"]
    diffs = [by[(data.best_number, s)] - by[(base, s)] for s in (6, 7)]  # seeds 5+1, 5+2
    assert data.lift["uniform"].spread == pytest.approx(statistics.stdev(diffs))


def test_cost_and_importances(three_domain_study: Path) -> None:
    data = gather(three_domain_study)
    cost = data.cost
    assert cost.counts["complete"] == 5 and cost.counts.get("pruned", 0) == 0
    # the race's entrants (the top distinct mixtures and the baselines), each on 2 seeds
    race = json.loads((three_domain_study / "best_mixture.json").read_text())["race"]
    assert cost.counts["confirm"] == 2 * len(race["entrants"]) and 2 < len(race["entrants"]) <= 5
    assert cost.resources == {"CPU": 1.0}  # recorded by each trial
    assert cost.cpu_hours > cost.trial_hours > 0 and cost.gpu_hours == 0
    assert 0 < cost.wall_hours < 1
    assert set(data.importances) <= {"share.finance", "share.cooking", "share.sports"}
    assert sum(data.importances.values()) == pytest.approx(1.0) and data.importance_note is None
    top = data.top_trials(2)
    assert top[0].number == data.best_number and top[0].metrics


def test_a_folder_without_a_study(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a mixopt study folder"):
        gather(tmp_path)
