"""A small real study (Optuna, Ray Tune, MLflow, the tiny model) checked through its events:
the three-domain study the report and UI tests read too (tests/conftest.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST_TRAIN

pytestmark = pytest.mark.slow


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_event_log_tells_the_study_as_it_ran(three_domain_run: dict[str, Any]) -> None:
    out, result = three_domain_run["out"], three_domain_run["result"]
    events = _events(three_domain_run["events"])
    assert events == _events(out / "events.jsonl")  # the folder always gets the same log
    names = [e["event"] for e in events]
    assert names[0] == "study_started" and names[-1] == "study_finished"
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    domains = ["finance", "cooking", "sports"]
    assert [e["domain"] for e in events if e["event"] == "tokenize_done"] == domains
    assert names.index("tokenize_done") > names.index("tokenize_started")
    assert max(i for i, n in enumerate(names) if n.startswith("tokenize")) < names.index(
        "trial_started"
    )
    # every trial the study holds was started once and finished once, in that order
    started = Counter(e["number"] for e in events if e["event"] == "trial_started")
    finished = {e["number"]: e for e in events if e["event"] == "trial_finished"}
    numbers = sorted(t.number for t in result.trials)
    assert sorted(started) == numbers and set(started.values()) == {1}
    assert sorted(finished) == numbers and len(finished) == names.count("trial_finished")
    for t in result.trials:
        first = names.index("trial_started")
        start = next(
            i
            for i, e in enumerate(events)
            if e.get("number") == t.number and e["event"] == "trial_started"
        )
        end = next(
            i
            for i, e in enumerate(events)
            if e.get("number") == t.number and e["event"] == "trial_finished"
        )
        assert first <= start < end
        assert finished[t.number]["state"] == t.state == "COMPLETE"
        assert finished[t.number]["score"] == pytest.approx(t.score)
        assert finished[t.number]["role"] == t.role
        reports = [
            e
            for e in events[start:end]
            if e["event"] == "trial_reported" and e["number"] == t.number
        ]
        assert len(reports) == FAST_TRAIN["checkpoints"]
    # confirmation: the race's entrants (the top distinct mixtures and the two baselines),
    # each on the 2 fresh seeds (none dropped after the first round: it is the last), then
    # the answer with its verdict
    final = events[-1]
    confirm = [e for e in events if e["event"] == "confirm_finished"]
    started = events[names.index("confirm_started")]
    assert names.index("confirm_started") > max(
        i for i, n in enumerate(names) if n == "trial_finished"
    )
    assert {"uniform", "natural"} <= set(started["candidates"])
    assert len(confirm) == 2 * len(started["candidates"])
    # the baselines' runs on the first fresh seed measured the noise during the search, and
    # the race reused them
    assert started["runs"] == len(confirm) - 2 and names.index("seed_noise") < names.index(
        "confirm_started"
    )
    assert names.index("race_finished") > max(
        i for i, n in enumerate(names) if n == "confirm_finished"
    )
    assert final["verdict"] == result.verdict and set(final["lifts"]) == {"uniform", "natural"}
    assert all(e["state"] == "COMPLETE" for e in confirm)
    assert final["best"]["mixture"] == pytest.approx(result.best_mixture)
    assert final["best"]["score"] == pytest.approx(result.best.score)
    assert final["counts"]["trials"] == len(numbers) == 5
    # progress went to stderr, one line per event, and nothing of it to stdout
    assert three_domain_run["stdout"] == ""
    err = three_domain_run["stderr"]
    assert err.count("start  trial") == 5 and err.count("done   trial") == 5
    # the race's runs report as what they are, counted against the race's own most runs
    # with its own ETA, without the search's counters (all 5 done)
    race = [line for line in err.splitlines() if line.startswith("[race ")]
    assert race and all(" (seed " in line and "| running" not in line for line in race)
    most = started["runs"]
    assert race[-1].startswith(f"[race {most}/{most}] confirmed ") and "ETA 0s" in race[-1]
    assert sum(f"/{most}] confirmed " in line for line in race) == most
    assert not any("(confirm:" in line for line in err.splitlines())


def test_progress_lines_say_what_each_number_is(three_domain_run: dict[str, Any]) -> None:
    # the checkpoints' numbers are the intermediate task's own score, named as such; the
    # trial's score and the best so far are the suite's: labelled so, never side by side unnamed
    err = three_domain_run["stderr"].splitlines()
    reported = [line for line in err if ": step " in line]
    assert reported and all("intermediate 'finance_loss' " in line for line in reported), reported[
        :2
    ]
    trials = [line for line in err if line.startswith("[") and not line.startswith("[race ")]
    assert all(", best score " in line for line in trials), err[:3]
    assert not any(", best -" in line or ", best 0" in line for line in err)
