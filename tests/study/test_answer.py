"""The answer a user acts on, end to end: chosen by the race on fresh seeds, declared with
its interval and verdict, in what the CLI prints, ``best_mixture.json``, the report and the
API. Scripted trials (``ScriptedTrial``) force the cases real trials make only by chance: a
search-seed winner that loses on fresh seeds, an answer that does not hold at a larger
budget, an entrant clearly behind, a problem where nothing beats uniform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture, transfer_check
from mixopt.api import resume_search
from mixopt.cli import main
from mixopt.cli.search import print_result
from mixopt.cli.transfer import print_transfer
from tests.support.runners import ScriptedTrial

pytestmark = pytest.mark.slow  # real studies of scripted trials


def _study(inputs: dict[str, Any], out: Path, runner: ScriptedTrial, **settings: Any) -> Any:
    options: dict[str, Any] = {
        "budget": "2k",
        "seed": 0,
        "executor": "inprocess",
        "tracking_uri": "none",
        "quiet": True,
        "cache_dir": str(out.parent / "cache"),
        "early_stop": "off",
        **settings,
    }
    return optimize_mixture(
        inputs["model"],
        inputs["domains"],
        inputs["evaluator"],
        out=str(out),
        runner=runner,
        **options,
    )


def test_a_search_seed_winner_that_loses_on_fresh_seeds_is_not_the_answer(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Baselines only: all_finance wins the search seed by luck, all_cooking is better on
    every fresh seed. The answer is all_cooking, and every output says so."""
    runner = ScriptedTrial(
        (("finance", 0.9), ("cooking", 1.0), ("sports", 0.5)), noise=0.002, luck=("finance", 0, 0.5)
    )
    out = tmp_path / "study"
    result = _study(
        study_inputs,
        out,
        runner,
        trials=0,
        confirm=2,
        baselines={"all_finance": {"finance": 1.0}, "all_cooking": {"cooking": 1.0}},
    )
    search = {t.baseline: t.score for t in result.trials}
    assert max(search, key=lambda n: search[n]) == "all_finance"  # the search seed's winner
    assert result.baseline_answer == "all_cooking"
    assert result.verdict.startswith(
        "The answer is the all_cooking baseline: no searched mixture beat it on 2 fresh seeds; "
        "beats uniform by +"
    )
    assert result.verdicts == {
        "uniform": "beats",
        "natural": "beats",
        "all_finance": "beats",
        "all_cooking": "within noise",  # itself
    }
    low, high = result.lifts["all_finance"].low, result.lifts["all_finance"].high
    assert low is not None and high is not None and 0 < low < 0.1 < high

    print_result(result)
    text = capsys.readouterr().out
    assert text.lstrip().startswith(result.verdict + ".")
    assert "Answer: the all_cooking baseline's mixture" in text
    row = next(line for line in text.splitlines() if line.startswith("all_finance"))
    assert f"[{low:+.4f}, {high:+.4f}]" in row and row.endswith("beats")

    saved = json.loads((out / "best_mixture.json").read_text())
    assert saved["answer_is"] == "all_cooking" and saved["verdict"] == result.verdict
    assert saved["lifts"]["all_finance"]["verdict"] == "beats"
    assert saved["race"]["seeds"] == [1, 2] and len(saved["race"]["entrants"]) == 4
    results = json.loads((out / "results.json").read_text())["answer"]
    assert results["verdict"] == result.verdict and results["lifts"] == saved["lifts"]
    page = (out / "report" / "index.html").read_text()
    assert "The answer is the all_cooking baseline" in page and "<h2>The answer</h2>" in page

    # the seed noise, said before the race: the two baselines on the first fresh seed
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    noise = events[names.index("seed_noise")]
    assert names.index("seed_noise") < names.index("confirm_started")
    assert "is noise at this budget; 2 fresh seeds resolve a lift of about" in noise["sentence"]
    assert saved["seed_noise"]["sentence"] == noise["sentence"] and noise["sd"] > 0


def test_an_answer_that_does_not_hold_at_a_larger_budget_says_so_first(
    study_inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """all_cooking is the answer at 2k; at 4k only sports helps, so it loses to both
    baselines there: the transfer's verdict is printed, saved, and heads the report."""
    runner = ScriptedTrial(
        (("cooking", 1.0),), noise=0.002, at_budget=((4000, (("sports", 1.0),)),)
    )
    out = tmp_path / "study"
    _study(
        study_inputs, out, runner, trials=0, confirm=2, baselines={"all_cooking": {"cooking": 1.0}}
    )
    t = transfer_check(out, "4k", seeds=2, executor="inprocess", runner=runner, quiet=True)
    assert not t.held and {v.verdict for v in t.lift.values()} == {"loses"}
    assert t.headline().startswith("At budget 4k the study's answer loses to natural by -")

    print_transfer(t)
    printed = capsys.readouterr().out.lstrip().splitlines()
    assert printed[0] == t.headline() + "."
    assert "did not hold at this budget" in printed[1]

    entry = json.loads((out / "best_mixture.json").read_text())["transfer"]["4000"]
    assert entry["verdicts"]["natural"]["verdict"] == "loses" and entry["verdict"] == t.headline()
    page = (out / "report" / "index.html").read_text()
    note = page.index("did not hold there")
    assert note < page.index("<h2>The answer</h2>")  # the first thing a user sees
    assert main(["report", str(out)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[1] == f"{t.headline()}: the study's answer did not hold there"


def test_an_entrant_clearly_behind_leaves_the_race_and_a_grown_race_reuses_every_run(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    runner = ScriptedTrial((("finance", 1.0), ("cooking", 0.2), ("sports", 0.0)), noise=0.001)
    out = tmp_path / "study"
    result = _study(study_inputs, out, runner, trials=6, confirm=3, sampler="random")
    race = json.loads((out / "best_mixture.json").read_text())["race"]
    assert race["dropped"], race  # at least one searched mixture fell clearly behind
    runs = (out / "confirm.jsonl").read_text().splitlines()
    entrants, dropped = len(race["entrants"]), len(race["dropped"])
    assert len(runs) == 2 * entrants + (entrants - dropped)  # the dropped skip seed 3
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "race_dropped" for e in events) == dropped
    assert result.verdicts["uniform"] == "beats"

    # a larger seed budget on resume: only the new seed's runs, none made again
    resume_search(out, confirm=4, runner=runner, quiet=True, executor="inprocess")
    again = (out / "confirm.jsonl").read_text().splitlines()
    assert again[: len(runs)] == runs and len(again) == len(runs) + entrants - dropped


def test_where_nothing_beats_uniform_beyond_noise_no_winner_is_declared(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    """Every mixture is worth the same; what differs is noise: the study ends with that
    sentence, every lift within noise, not a winner."""
    runner = ScriptedTrial((("finance", 1.0), ("cooking", 1.0), ("sports", 1.0)), noise=0.01)
    result = _study(study_inputs, tmp_path / "study", runner, trials=4, confirm=3)
    assert set(result.verdicts.values()) == {"within noise"}
    # a searched answer is said to beat nothing; a baseline that won says no mixture beat it
    assert result.verdict.startswith(
        ("No mixture beat uniform beyond noise: ", "The answer is the uniform baseline: no")
    ), result.verdict
    assert "beats" not in result.verdict


def test_the_race_runs_at_the_confirm_budget_and_chooses_there(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    """At the search's 2k tokens cooking helps; at 4k, where the answer will be used, only
    sports does: --confirm-budget 4k races there, and the answer is all_sports."""
    runner = ScriptedTrial(
        (("cooking", 1.0),), noise=0.002, at_budget=((4000, (("sports", 1.0),)),)
    )
    out = tmp_path / "study"
    result = _study(
        study_inputs,
        out,
        runner,
        trials=3,
        confirm=2,
        confirm_budget="4k",
        sampler="random",
        baselines={"all_cooking": {"cooking": 1.0}, "all_sports": {"sports": 1.0}},
    )
    search = {t.baseline: t.score for t in result.trials if t.baseline}
    assert max(search, key=lambda n: search[n]) == "all_cooking"  # the proxy's winner
    assert result.baseline_answer == "all_sports" and result.verdicts["all_cooking"] == "beats"
    runs = [json.loads(x) for x in (out / "confirm.jsonl").read_text().splitlines()]
    assert runs and {r["budget"] for r in runs} == {4000}  # no noise runs at 2k: not reused
    saved = json.loads((out / "best_mixture.json").read_text())
    assert saved["confirm_budget"] == 4000 and saved["transfer"] == {}


def test_a_transfer_whose_every_baseline_run_failed_says_so_not_an_empty_sentence() -> None:
    from mixopt.study.answer import Transfer
    from mixopt.study.summary import Candidate

    best = Candidate("trial 3", {"a": 1.0}, -2.0, (-1.5, -1.7), (11, 12))
    t = Transfer(budget=4000, best=best, baselines={}, lift={}, retained={})
    assert t.headline() == (
        "At budget 4k the study's answer scored -1.6000 (2 fresh seeds) and is compared with "
        "no baseline: every baseline's run at this budget failed"
    )


def test_a_transfer_of_a_study_scored_off_its_target_says_so_first() -> None:
    """A leave-one-out study's transfer check states its lifts as the study does: estimates
    on left-out training domains, not on the user's target."""
    from mixopt.plans.leave_one_out import ESTIMATE
    from mixopt.study.answer import Transfer
    from mixopt.study.summary import Candidate

    best = Candidate("trial 3", {"a": 1.0}, -2.0, (-1.5, -1.7), (11, 12))
    t = Transfer(4000, best, {}, {}, {}, estimate=ESTIMATE)
    assert t.headline().startswith(
        "Estimated on left-out training domains, not on your target: at budget 4k the study's answer"
    )
    assert t.to_dict()["verdict"] == t.headline()
