"""Each built-in kind on data whose right answer is known."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from mixopt.evaluators import (
    ExactMatchTask,
    LossTask,
    MultipleChoiceTask,
    SqlExecutionTask,
    normalize_answer,
    run_query,
)
from mixopt.evaluators.sql_execution import results_match
from mixopt.testing import make_records, make_sql_database


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_loss_equals_the_models_own_loss(tiny_model: Any, tmp_path: Path) -> None:
    import torch

    model, tok = tiny_model
    texts = [r["text"] for r in make_records("finance", 6, seed=5)]
    result = LossTask(
        _jsonl(tmp_path / "t.jsonl", [{"text": t} for t in texts]), batch_size=4
    ).evaluate(model, tok)
    total, count = 0.0, 0
    with torch.inference_mode():
        for t in texts:
            ids = torch.tensor([tok(t)["input_ids"] + [tok.eos_token_id]])
            n = ids.shape[1] - 1
            total += float(model(input_ids=ids, labels=ids).loss) * n
            count += n
    assert result.metrics["loss"] == pytest.approx(total / count, rel=1e-4)
    assert result.score == pytest.approx(-total / count, rel=1e-4)
    assert result.metrics["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-3)


def test_loss_on_completions_only(tiny_model: Any, tmp_path: Path) -> None:
    model, tok = tiny_model
    rows = [
        {
            "prompt": "Question: how many users have age above 5?\nSQL:",
            "completion": " SELECT COUNT(*) FROM users WHERE age > 5;",
        }
    ]
    full = LossTask(_jsonl(tmp_path / "a.jsonl", rows)).evaluate(model, tok)
    assert (
        full.metrics["tokens"]
        == len(tok(rows[0]["completion"], add_special_tokens=False)["input_ids"]) + 1
    )


def test_multiple_choice_picks_the_likely_ending(tiny_model: Any, tmp_path: Path) -> None:
    model, tok = tiny_model
    good = "to 2 in a tense game at home."
    items = [
        {
            "question": "The Lions beat the Bears 5",
            "choices": ["qq zz vv kk pp.", good],
            "answer": 1,
        },
        {
            "question": "The Lions beat the Bears 5",
            "choices": [good, "qq zz vv kk pp."],
            "answer": good,
        },
        {
            "question": "The Lions beat the Bears 5",
            "choices": [good, "qq zz vv kk pp."],
            "answer": 1,
        },  # keyed wrong
    ]
    result = MultipleChoiceTask(_jsonl(tmp_path / "mc.jsonl", items)).evaluate(model, tok)
    assert (
        result.metrics["accuracy"] == pytest.approx(2 / 3)
        and result.score == result.metrics["accuracy"]
    )
    assert result.metrics["accuracy_norm"] == pytest.approx(2 / 3)


def test_multiple_choice_template(tiny_model: Any, tmp_path: Path) -> None:
    model, tok = tiny_model
    items = [{"team": "Lions", "choices": ["beat the Bears 5 to 2.", "zz qq."], "answer": 0}]
    task = MultipleChoiceTask(_jsonl(tmp_path / "mc.jsonl", items), template="The {team}")
    assert task.evaluate(model, tok).score == 1.0


def test_exact_match_against_the_models_own_greedy_output(tiny_model: Any, tmp_path: Path) -> None:
    from mixopt.evaluators._lm import generate

    model, tok = tiny_model
    prompts = ["The Lions beat the", "To make bread, mix the"]
    outputs = generate(model, tok, prompts, max_new_tokens=6)
    assert all(outputs)
    rows = [
        {"prompt": prompts[0], "answer": outputs[0].upper() + "!"},  # equal after normalization
        {"prompt": prompts[1], "answer": ["nothing like it", outputs[1]]},  # any of several answers
        {"prompt": prompts[0], "answer": "something else"},
    ]
    result = ExactMatchTask(_jsonl(tmp_path / "em.jsonl", rows), max_new_tokens=6).evaluate(
        model, tok
    )
    assert result.metrics["exact_match"] == pytest.approx(2 / 3)
    strict = ExactMatchTask(
        _jsonl(tmp_path / "em2.jsonl", rows[:1]), max_new_tokens=6, normalize=False
    )
    assert strict.evaluate(model, tok).score == 0.0


def test_normalize_answer() -> None:
    assert normalize_answer("  The  Answer, is: 42! ") == "the answer is 42"


@pytest.fixture()
def hospital(tmp_path: Path) -> Path:
    return make_sql_database(tmp_path / "hospital.sqlite", "hospital", rows=30, seed=1)


def test_sql_execution_compares_result_sets(hospital: Path) -> None:
    gold = run_query(hospital, "SELECT age FROM patients WHERE weight > 50").rows
    same = run_query(hospital, "SELECT p.age FROM patients AS p WHERE NOT p.weight <= 50").rows
    other = run_query(hospital, "SELECT age FROM patients WHERE weight < 50").rows
    assert gold is not None and same is not None and other is not None
    assert results_match(list(reversed(same)), gold, ordered=False)
    assert not results_match(other, gold, ordered=False)
    assert not results_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert results_match([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not results_match([(1,), (1,)], [(1,)], ordered=False)  # a multiset: duplicates count


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("DELETE FROM patients", "not authorized"),
        ("DROP TABLE patients", "not authorized"),
        ("INSERT INTO patients (age, weight) VALUES (1, 2)", "not authorized"),
        ("ATTACH DATABASE 'x.db' AS x", "not authorized"),
        ("PRAGMA writable_schema = ON", "not authorized"),
        ("SELECT 1; DELETE FROM patients", "one statement"),
        ("SELEC age FROM patients", "syntax error"),
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            "timeout",
        ),
    ],
)
def test_sql_writes_and_runaway_queries_fail_cleanly(hospital: Path, sql: str, error: str) -> None:
    before = hospital.read_bytes()
    outcome = run_query(hospital, sql, timeout_s=0.3)
    assert outcome.rows is None and error in (outcome.error or "")
    assert hospital.read_bytes() == before
    with sqlite3.connect(hospital) as conn:
        assert conn.execute("SELECT count(*) FROM patients").fetchone() == (30,)
    conn.close()


def test_sql_execution_task_end_to_end(tiny_model: Any, tmp_path: Path, hospital: Path) -> None:
    model, tok = tiny_model
    rows = [
        {"prompt": r["prompt"], "query": r["completion"].strip()}
        for r in make_records("sql_hospital", 6, seed=9)
    ]
    task = SqlExecutionTask(
        _jsonl(tmp_path / "q.jsonl", rows), database=str(hospital), max_new_tokens=24
    )
    task.check()
    result = task.evaluate(model, tok)
    assert set(result.metrics) == {
        "execution_accuracy",
        "exact_match",
        "error_rate",
        "timeout_rate",
        "items",
    }
    assert 0 <= result.score <= 1 and result.metrics["items"] == 6
    assert result.metrics["execution_accuracy"] + result.metrics["error_rate"] <= 1 + 1e-9


def test_sql_task_checks_its_gold_queries_and_databases(tmp_path: Path, hospital: Path) -> None:
    bad = SqlExecutionTask(
        _jsonl(tmp_path / "b.jsonl", [{"prompt": "q", "query": "SELECT nope FROM patients"}]),
        database=str(hospital),
    )
    with pytest.raises(ConfigError, match="gold query fails"):
        bad.check()
    missing = SqlExecutionTask(
        _jsonl(tmp_path / "m.jsonl", [{"prompt": "q", "query": "SELECT 1", "db": "gone.sqlite"}])
    )
    with pytest.raises(ConfigError, match=r"database gone\.sqlite not found"):
        missing.check()


@pytest.mark.parametrize(
    ("task", "rows", "message"),
    [
        (LossTask, [{"body": "x"}], "no field 'prompt'"),
        (
            MultipleChoiceTask,
            [{"question": "q", "choices": ["a"], "answer": 0}],
            "two or more choices",
        ),
        (
            MultipleChoiceTask,
            [{"question": "q", "choices": ["a", "b"], "answer": 5}],
            "not one of the choices",
        ),
        (ExactMatchTask, [{"prompt": "q"}], "no field 'answer'"),
    ],
)
def test_bad_task_data(tmp_path: Path, task: Any, rows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        task(_jsonl(tmp_path / "d.jsonl", rows)).check()


def test_missing_and_malformed_task_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="evaluation data not found"):
        LossTask(str(tmp_path / "none.jsonl")).check()
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(ConfigError, match="malformed JSON"):
        LossTask(str(tmp_path / "bad.jsonl")).check()
