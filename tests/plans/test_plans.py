"""Trial plans: the registry, how a study's settings choose one, its refusals (each one line),
and the leave-one-out plan's pieces a variant changes one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixopt.cli import main
from mixopt.errors import ConfigError
from mixopt.plans import (
    PLANS,
    LeaveOneOut,
    OnePass,
    TrialPlan,
    cost_line,
    make_plan,
    not_an_evaluator,
)
from mixopt.study.spec import StudySpec
from mixopt.testing import write_domains

PLUGINS = "tests.testing.plugins"


def test_the_registry_holds_both_plans_by_their_own_names() -> None:
    assert PLANS.names() == ["leave-one-out", "one-pass"]
    assert PLANS.get("one-pass") is OnePass and PLANS.get("Leave-One-Out") is LeaveOneOut
    assert all(isinstance(PLANS.get(n)(), TrialPlan) for n in PLANS.names())
    assert all(line for _, line in PLANS.describe())  # one line each, for mixopt ls
    with pytest.raises(ConfigError, match=r"Unknown trial plan 'lodo'.*Known: leave-one-out"):
        PLANS.get("lodo")


def test_each_plan_declares_what_a_study_asks_of_it() -> None:
    one, lodo = OnePass(), LeaveOneOut()
    assert (one.takes_evaluator, one.intermediate_scores) == (True, True)
    assert (lodo.takes_evaluator, lodo.intermediate_scores) == (False, False)
    assert one.first_line(["a", "b"]) is None and one.problems((), 1000) == []
    line, fields = LeaveOneOut(("b", "c")).first_line(["a", "b", "c"])
    assert line.startswith("leave-one-out over 2 domains: each trial trains 2 times")
    assert fields == {"domains": ["b", "c"], "trainings": 2}


def test_a_plan_of_several_trainings_a_trial_states_the_study_total_up_front() -> None:
    line, _ = cost_line(LeaveOneOut(), ["a", "b", "c", "d", "e"], trials=18)
    assert line.endswith(
        "; 18 searched trials: 90 trainings, and 5 for each baseline and confirmation run"
    )
    assert cost_line(OnePass(), ["a", "b"], trials=18) is None


def test_auto_is_one_pass_with_an_evaluator_and_leave_one_out_without() -> None:
    assert make_plan("auto", evaluator=True) == OnePass()
    assert make_plan("auto", evaluator=False) == LeaveOneOut()
    assert make_plan("auto", False, ["a", "b"]) == LeaveOneOut(("a", "b"))
    assert make_plan("leave-one-out", False, ["a"]) == LeaveOneOut(("a",))
    spec = StudySpec().replace(lodo_domains="a,b")
    assert spec.scoring.plan == "auto" and spec.scoring.trial_plan() == LeaveOneOut(("a", "b"))
    assert StudySpec().replace(evaluator="t.yaml").scoring.trial_plan() == OnePass()


@pytest.mark.parametrize(
    ("name", "evaluator", "rotating", "message"),
    [
        ("one-pass", False, (), "--plan one-pass scores each trial with an evaluator: give --eval"),
        ("leave-one-out", True, (), "--plan leave-one-out scores on the domains' own records"),
        ("auto", True, ("a",), "applies only to a plan that leaves domains out in turn"),
        ("one-pas", True, (), "Unknown trial plan 'one-pas'. Did you mean: one-pass?"),
    ],
)
def test_a_plan_that_cannot_go_with_the_settings_is_refused(
    name: str, evaluator: bool, rotating: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_plan(name, evaluator, rotating)
    assert len(info.value.problems) == 1 and message in info.value.problems[0]


def test_a_plan_is_not_an_evaluator() -> None:
    assert not_an_evaluator("tasks.yaml") is None and not_an_evaluator("m:attr") is None
    assert not_an_evaluator("leave-one-out") == (
        "'leave-one-out' is a trial plan, not an evaluator: drop --eval (it is the default "
        "without one) or give --plan leave-one-out"
    )
    assert "give --plan one-pass, and a task file as --eval" in (not_an_evaluator("one-pass") or "")
    with pytest.raises(ConfigError, match="'leave-one-out' is a trial plan, not an evaluator"):
        StudySpec().replace(evaluator="leave-one-out")


def test_a_variant_changes_one_piece_and_is_named_as_module_attr() -> None:
    worst = make_plan(f"{PLUGINS}:WorstCase", False, ["a", "b"])
    assert worst.name == "leave-one-out-worst" and worst.rotating(["a", "b", "c"]) == ("a", "b")
    assert worst.score({"a": 1.0, "b": 3.0}) == -3.0
    assert LeaveOneOut().score({"a": 1.0, "b": 3.0}) == -2.0  # the mean of minus the losses
    line, _ = worst.first_line(["a", "b"])
    assert line.startswith("leave-one-out-worst over 2 domains")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--eval", "leave-one-out"],
            "'leave-one-out' is a trial plan, not an evaluator: drop --eval (it is the default "
            "without one) or give --plan leave-one-out",
        ),
        (
            ["--plan", "one-pass"],
            "--plan one-pass scores each trial with an evaluator: give --eval TASKS, or drop "
            "--plan (without --eval a trial runs leave-one-out)",
        ),
    ],
    ids=["eval-leave-one-out", "plan-one-pass-without-eval"],
)
def test_the_cli_refuses_in_one_line(
    extra: list[str],
    message: str,
    tokenizer_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    domains = write_domains(tmp_path / "data", {"finance": "jsonl", "cooking": "jsonl"}, n=20)
    argv = ["search", "--domains", str(domains), "--budget", "1k", "--model", str(tokenizer_dir)]
    out = tmp_path / "out"
    assert (
        main([*argv, *extra, "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--quiet"]) == 2
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"mixopt: error: {message}"]
    assert not out.exists() and not (tmp_path / "c").exists()


def test_ls_lists_the_plans_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "plans"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("plans (--plan NAME):")
    rows = dict(line.strip().split("  ", 1) for line in text.splitlines()[1:] if line.strip())
    assert set(rows) == set(PLANS.names())
    assert "the default without --eval" in rows["leave-one-out"]
    assert "the default with one" in rows["one-pass"]
