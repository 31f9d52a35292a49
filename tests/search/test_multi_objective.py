"""Studies with several objectives: the shared two-objective study end to end (its Pareto
front, the picked mixture confirmed, the lift on each objective, MLflow's table), the
refusals before the first trial, the pick rules, and a resumed study."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from mixopt.evaluators.tasks import parse_suite
from mixopt.study.pareto import front, pick, scaled
from mixopt.study.store import StudyStore
from mixopt.study.trials import TrialRecord

OBJECTIVES = ["finance_loss", "cooking_loss"]


def _dominated(p: dict[str, float], q: dict[str, float]) -> bool:
    """``q`` is at least as good as ``p`` everywhere and better somewhere."""
    return all(q[n] >= p[n] for n in p) and any(q[n] > p[n] for n in p)


@pytest.mark.slow
def test_two_objective_study_answers_with_its_front_and_confirms_the_pick(
    two_objective_run: dict[str, Any],
) -> None:
    import optuna

    out = Path(two_objective_run["out"])
    result = two_objective_run["result"]
    pareto = json.loads((out / StudyStore.PARETO).read_text())
    best = json.loads((out / StudyStore.BEST).read_text())
    trials = json.loads((out / StudyStore.RESULTS).read_text())["trials"]
    done = [t for t in trials if t["state"] == "COMPLETE"]
    assert pareto["objectives"] == OBJECTIVES and pareto["pick"] == "balanced"
    # every completed trial keeps each objective's score; the first is its score
    assert all(
        list(t["scores"]) == OBJECTIVES and t["score"] == t["scores"]["finance_loss"] for t in done
    )
    on = [p["number"] for p in pareto["front"]]
    # the front: no completed trial dominates a front point, and every other completed trial is dominated
    for t in done:
        beaten = any(_dominated(t["scores"], q["scores"]) for q in done)
        assert beaten == (t["number"] not in on), t
    assert {p["role"] for p in pareto["front"]} <= {t["role"] for t in done}
    assert (
        pareto["picked"] in on
        and pareto["picked"] == best["best_trial"]
        and list(result.front) == on
    )
    # the answer: the picked trial's mixture, its score on each objective, and the lift on each over each baseline
    picked = next(t for t in trials if t["number"] == pareto["picked"])
    assert best["best_mixture"] == picked["mixture"] and best["objectives"] == OBJECTIVES
    assert best["search_scores"] == picked["scores"] and best["pareto"] == StudyStore.PARETO
    assert set(best["objective_lift"]) == {"uniform", "natural"}
    for name, lifts in best["objective_lift"].items():
        assert set(lifts) == set(OBJECTIVES)
        for objective, lift in lifts.items():
            assert lift == pytest.approx(
                best["scores"][objective] - best["baseline_scores"][name][objective]
            )
    # the picked mixture was re-run on a fresh seed (under a baseline's name when a baseline was picked)
    runs = [json.loads(line) for line in (out / StudyStore.CONFIRM).read_text().splitlines()]
    mine = [r for r in runs if r["source"] == pareto["picked"]]
    assert mine and all(list(r["scores"]) == OBJECTIVES and r["seed"] != 5 for r in mine)
    assert best["scores"] == {
        o: pytest.approx(sum(r["scores"][o] for r in mine) / len(mine)) for o in OBJECTIVES
    }
    assert {r["name"] for r in runs} >= {"uniform", "natural"}
    # Optuna holds the vector, in the objectives' order
    study = optuna.load_study(study_name="mixopt", storage=f"sqlite:///{out / StudyStore.DB}")
    assert len(study.directions) == 2 and study.metric_names == OBJECTIVES
    assert all(
        t.values == [t.user_attrs["result"]["scores"][o] for o in OBJECTIVES]
        for t in study.trials
        if t.values
    )


@pytest.mark.slow
def test_mlflow_holds_the_front_as_a_table_and_tags_the_pick(
    two_objective_run: dict[str, Any],
) -> None:
    from mlflow.tracking import MlflowClient

    out = Path(two_objective_run["out"])
    pareto = json.loads((out / StudyStore.PARETO).read_text())
    client = MlflowClient(f"sqlite:///{out / StudyStore.TRACKING}")
    parent = client.get_run(json.loads((out / StudyStore.STUDY).read_text())["parent_run_id"])
    table = json.loads(
        Path(parent.info.artifact_uri.removeprefix("file://"), "pareto_front.json").read_text()
    )
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [r["trial"] for r in rows] == [p["number"] for p in pareto["front"]]
    assert [r["trial"] for r in rows if r["picked"]] == [pareto["picked"]]
    assert {f"best_score.{o}" for o in OBJECTIVES} <= set(parent.data.metrics)
    assert "lift_over_uniform.cooking_loss" in parent.data.metrics
    children = client.search_runs(
        [parent.info.experiment_id], filter_string="tags.`mixopt.best` = 'true'"
    )
    assert [r.data.tags["mixopt.trial_number"] for r in children] == [str(pareto["picked"])]


@pytest.mark.slow
def test_the_front_plot_draws_every_completed_trial_the_front_and_the_pick(
    two_objective_run: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt.report.data import gather
    from mixopt.report.front import front_plot, front_points
    from mixopt.report.page import write_report

    out = tmp_path / "study"
    shutil.copytree(two_objective_run["out"], out)
    pareto = json.loads((out / StudyStore.PARETO).read_text())
    data = gather(out)
    names, points = front_points(data)
    assert names == tuple(OBJECTIVES)
    assert {p.number for p in points} == {t.number for t in data.trials if t.state == "COMPLETE"}
    assert sorted(p.number for p in points if p.on_front) == [p["number"] for p in pareto["front"]]
    assert [p.number for p in points if p.picked] == [pareto["picked"]]
    assert {p.baseline for p in points} >= {"uniform", "natural"}
    assert front_plot(data) is not None
    page = write_report(out)
    assert (page.parent / "front.png").is_file() and "Pareto front" in page.read_text()
    # three objectives: parallel coordinates over the same trials (a third score, the shares' spread)
    third = [
        dataclasses.replace(t, scores={**t.scores, "spread": -max(t.mixture.values())})
        if t.scores
        else t
        for t in data.trials
    ]
    names, points = front_points(dataclasses.replace(data, trials=tuple(third)))
    assert len(names) == 3 and len(points) == len([t for t in third if t.scores])
    assert front_plot(dataclasses.replace(data, trials=tuple(third))) is not None


def _record(number: int, finance: float, cooking: float, role: str = "search") -> TrialRecord:
    return TrialRecord(
        number,
        role,
        "COMPLETE",
        {"finance": 0.5, "cooking": 0.5},
        {},
        finance,
        scores={"finance_loss": finance, "cooking_loss": cooking},
    )


def test_pick_rules_choose_from_the_front() -> None:
    trials = [
        _record(0, -1.0, -1.0, "baseline:uniform"),
        _record(1, -0.5, -2.0),  # best on finance
        _record(2, -2.0, -0.5),  # best on cooking
        _record(3, -0.9, -0.9),  # the balanced one: both scaled to 0.73
        _record(4, -1.5, -1.5),  # dominated by 0 and 3
        TrialRecord(5, "search", "PRUNED", {}, {}, -0.1),  # stopped early: never on the front
    ]
    assert [t.number for t in front(trials)] == [1, 2, 3]
    assert pick(trials, "finance_loss") == 1 and pick(trials, "cooking_loss") == 2
    assert pick(trials, "balanced") == 3
    assert scaled(trials)[3] == {
        "finance_loss": pytest.approx(1.1 / 1.5),
        "cooking_loss": pytest.approx(1.1 / 1.5),
    }
    # a tie on the worst scaled score goes to the larger mean
    tied = [_record(0, 0.0, 1.0), _record(1, 1.0, 0.0), _record(2, 0.5, 0.5), _record(3, 0.5, 0.6)]
    assert pick(tied, "balanced") == 3


@pytest.mark.parametrize(
    ("objectives", "weighted", "message"),
    [
        (
            ["finance_los", "cooking"],
            False,
            "objective 'finance_los' is not a task of the evaluator. Did you mean: finance?",
        ),
        (["finance", "finance"], False, "objective 'finance' named twice"),
        (
            ["finance", "cooking"],
            True,
            "task 'cooking' is an objective and has a 'weight:'; weights combine tasks",
        ),
        (["finance", "unscored"], False, "objective 'unscored' has weight 0 (not scored)"),
    ],
)
def test_objectives_that_cannot_be_are_refused_one_line_each(
    tmp_path: Path, objectives: list[str], weighted: bool, message: str
) -> None:
    raw = {
        "tasks": [
            {"name": "finance", "kind": "loss", "data": "f.jsonl"},
            {
                "name": "cooking",
                "kind": "loss",
                "data": "c.jsonl",
                **({"weight": 2.0} if weighted else {}),
            },
            {"name": "unscored", "kind": "loss", "data": "u.jsonl", "weight": 0},
        ],
        "objectives": objectives,
    }
    with pytest.raises(ConfigError) as caught:
        parse_suite(raw, tmp_path)
    assert len(caught.value.problems) == 1 and message in caught.value.problems[0]


@pytest.mark.slow
def test_the_cli_refuses_bad_objective_settings_before_the_first_trial(
    two_objective_run: dict[str, Any],
    study_inputs: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixopt.cli import main

    base = [
        "search",
        "--domains",
        study_inputs["domains"],
        "--model",
        study_inputs["model"],
        "--budget",
        "4k",
        "--eval",
        two_objective_run["evaluator"],
        "--executor",
        "inprocess",
        "--quiet",
    ]
    assert (
        main(
            [
                *base,
                "--sampler",
                "cmaes",
                "--objective",
                "cooking_loss",
                "--objective",
                "finance_los",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert (
        "objective 'finance_los' is not a task of the evaluator. Did you mean: finance_loss?"
        in err[0]
    )
    assert not (tmp_path / "a").exists()  # nothing written
    assert (
        main([*base, "--sampler", "cmaes", "--pick", "sports", "--out", str(tmp_path / "b")]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert (
        "sampler 'cmaes' takes one objective, and the study has 2 (finance_loss, cooking_loss)"
        in err[0]
    )
    assert "--pick 'sports' is neither balanced nor an objective" in err[1]
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_a_resumed_two_objective_study_keeps_every_trial_once(
    two_objective_run: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt.api import resume_search

    out = tmp_path / "study"
    shutil.copytree(two_objective_run["out"], out)
    before = {t["number"]: t for t in json.loads((out / StudyStore.RESULTS).read_text())["trials"]}
    with pytest.raises(ConfigError, match="objectives"):  # other objectives make another study
        resume_search(out, objectives=["cooking_loss", "finance_loss"], quiet=True)
    # the same, from a task file that lists them in another order (Optuna's record of them decides)
    swapped = (
        Path(two_objective_run["evaluator"])
        .read_text()
        .replace("[finance_loss, cooking_loss]", "[cooking_loss, finance_loss]")
    )
    (tmp_path / "tasks.yaml").write_text(
        swapped.replace("data: ", f"data: {Path(two_objective_run['evaluator']).parent}/")
    )
    with pytest.raises(
        ConfigError,
        match="objectives are finance_loss, cooking_loss, not cooking_loss, finance_loss",
    ):
        resume_search(out, evaluator=str(tmp_path / "tasks.yaml"), quiet=True)
    result = resume_search(out, trials=4, quiet=True)
    after = {t.number: t for t in result.trials}
    assert len(after) == len(before) + 1 and set(before) < set(after)
    for number, t in before.items():  # nothing re-run: the same states and scores
        assert after[number].state == t["state"] and after[number].scores == t.get("scores", {})
    new = after[max(after)]
    assert new.role == "search" and new.state in ("COMPLETE", "PRUNED")
    pareto = json.loads((out / StudyStore.PARETO).read_text())
    assert (
        result.front == tuple(p["number"] for p in pareto["front"])
        and pareto["picked"] in result.front
    )
    assert json.loads((out / StudyStore.BEST).read_text())["best_trial"] == pareto["picked"]


@pytest.mark.slow
def test_validate_shows_the_objectives(
    two_objective_run: dict[str, Any],
    study_inputs: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixopt.cli import main

    base = [
        "validate",
        "--domains",
        study_inputs["domains"],
        "--eval",
        two_objective_run["evaluator"],
    ]
    assert main(base) == 0
    assert "objectives: finance_loss, cooking_loss (each maximized" in capsys.readouterr().out
    assert main([*base, "--objective", "cooking_loss"]) == 0
    assert "objective: cooking_loss" in capsys.readouterr().out.splitlines()
