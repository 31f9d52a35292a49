"""A suite never averages scores of different scales silently: a loss and an accuracy need
the user's weights, refused otherwise by the task file's checks and by ``mixopt validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.cli import main
from mixopt.errors import ConfigError
from mixopt.evaluators import (
    EvalResult,
    EvalSuite,
    LossTask,
    MultipleChoiceTask,
    NamedTask,
    load_suite,
)
from mixopt.evaluators.suite import score_scale


def _files(root: Path) -> None:
    (root / "heldout.jsonl").write_text(json.dumps({"text": "held out text"}) + "\n")
    mc = {"question": "Which is a sport?", "choices": ["tennis", "soup"], "answer": 0}
    (root / "mc.jsonl").write_text(json.dumps(mc) + "\n")


MIXED = """tasks:
  - {name: heldout, kind: loss, data: heldout.jsonl%s}
  - {name: mc, kind: multiple_choice, data: mc.jsonl%s}
intermediate: heldout
"""


class Fixed:
    """An evaluator of one fixed score, declaring its scale."""

    def __init__(self, score: float, scale: str | None) -> None:
        self.score, self.score_scale = score, scale

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(self.score, {})


def test_each_built_in_kind_declares_its_scale() -> None:
    assert score_scale(LossTask("x.jsonl")) == "negative loss"
    assert score_scale(MultipleChoiceTask("x.jsonl")) == "fraction"
    assert score_scale(object()) is None


def test_a_loss_and_an_accuracy_without_weights_are_refused_saying_how_to_choose(
    tmp_path: Path,
) -> None:
    _files(tmp_path)
    path = tmp_path / "tasks.yaml"
    path.write_text(MIXED % ("", ""))
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    (line,) = info.value.problems
    assert str(path) in line and "'heldout' (negative loss), 'mc' (fraction)" in line
    assert "different scales" in line and "give every scored task a 'weight:'" in line
    assert "'weight: 0'" in line and "\n" not in line
    # one weight is not a choice of the trade-off either
    path.write_text(MIXED % ("", ", weight: 1"))
    with pytest.raises(ConfigError, match="different scales"):
        load_suite(path)


def test_chosen_weights_decide_and_the_loss_no_longer_dominates(tmp_path: Path) -> None:
    _files(tmp_path)
    path = tmp_path / "tasks.yaml"
    path.write_text(MIXED % (", weight: 0", ", weight: 1"))
    suite = load_suite(path)
    assert [t.weight for t in suite.tasks] == [0, 1] and suite.intermediate == "heldout"
    # the same scores, weighted as chosen: the accuracy decides, the loss is only reported
    loss, acc = Fixed(-7.8, "negative loss"), Fixed(0.33, "fraction")
    chosen = EvalSuite((NamedTask("heldout", loss, 0.0), NamedTask("mc", acc, 1.0)), "heldout")
    assert chosen.evaluate(None, None).score == pytest.approx(0.33)
    both = EvalSuite((NamedTask("heldout", loss, 0.1), NamedTask("mc", acc, 1.0)))
    assert both.evaluate(None, None).score == pytest.approx((0.1 * -7.8 + 0.33) / 1.1)
    with pytest.raises(ConfigError, match="different scales"):
        EvalSuite((NamedTask("heldout", loss), NamedTask("mc", acc)))
    # tasks on one scale keep the plain mean
    same = EvalSuite(
        (NamedTask("a", Fixed(0.2, "fraction")), NamedTask("b", Fixed(0.4, "fraction")))
    )
    assert same.evaluate(None, None).score == pytest.approx(0.3)


def test_mixopt_validate_refuses_the_mixed_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _files(tmp_path)
    domains = tmp_path / "domains.json"
    domains.write_text(
        json.dumps(
            [{"domain": "a", "data": ["some text"] * 3}, {"domain": "b", "data": ["more"] * 3}]
        )
    )
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(MIXED % ("", ""))
    assert main(["validate", "--domains", str(domains), "--eval", str(tasks), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("mixopt: error: ") and "different scales" in line for line in err), (
        err
    )
    tasks.write_text(MIXED % (", weight: 0", ", weight: 1"))
    assert main(["validate", "--domains", str(domains), "--eval", str(tasks), "--quiet"]) == 0, (
        capsys.readouterr().err
    )
