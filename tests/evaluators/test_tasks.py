"""Task files, suites, the registry, and user evaluators."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from mixopt.evaluators import (
    EvalResult,
    EvalSuite,
    EvaluationError,
    LossTask,
    NamedTask,
    load_suite,
    make_evaluator,
)
from mixopt.evaluators.suite import run_task

DOWNSTREAM = Path(__file__).resolve().parents[2] / "downstream"
TASK_FILES = sorted(p for p in DOWNSTREAM.rglob("*.yaml") if "lm_eval_tasks" not in p.parts)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.name)
def test_every_shipped_task_file_loads_and_checks(path: Path) -> None:
    if "lm_eval" in path.name:
        pytest.importorskip(
            "lm_eval", reason="lm-evaluation-harness is the optional 'lm-eval' extra"
        )
    suite = load_suite(path)
    assert suite.check() == []


def test_every_shipped_data_file_is_used_by_a_task_file() -> None:
    yaml_text = " ".join(p.read_text() for p in DOWNSTREAM.rglob("*.yaml"))
    jsonl_text = " ".join(p.read_text() for p in DOWNSTREAM.rglob("*.jsonl"))
    data = [p for p in DOWNSTREAM.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    assert data
    for p in data:
        # named by a task file, or (a SQLite database) by the records that query it
        assert p.name in yaml_text or p.name in jsonl_text, f"{p} is not used by any task"


@pytest.mark.slow
def test_shipped_task_files_evaluate(tiny_model: Any) -> None:
    model, tok = tiny_model
    for path in TASK_FILES:
        if "lm_eval" in path.name:
            continue
        result = load_suite(path).evaluate(model, tok)
        assert math.isfinite(result.score) and result.metrics


def test_suite_aggregates_with_weights(tmp_path: Path) -> None:
    suite = EvalSuite((NamedTask("a", _Fixed(1.0)), NamedTask("b", _Fixed(0.0), weight=3.0)))
    result = suite.evaluate(None, None)
    assert result.score == pytest.approx(0.25)
    assert result.metrics["a/score"] == 1.0 and result.metrics["b/value"] == 0.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "tasks: [{kind: multiple_choise, data: x.jsonl}]",
            "Unknown evaluator 'multiple_choise'. Did you mean: multiple_choice?",
        ),
        ("tasks: [{kind: loss, dat: x.jsonl}]", "unknown option 'dat'. Did you mean: data?"),
        (
            "tasks: [{kind: loss, data: x.jsonl}]\nintermedate: loss",
            "unknown key 'intermedate'. Did you mean: intermediate?",
        ),
        (
            "tasks: [{kind: loss, data: x.jsonl}]\nintermediate: nope",
            "intermediate task 'nope' is not one of",
        ),
        (
            "tasks: [{kind: loss, data: x.jsonl}, {kind: loss, data: y.jsonl}]",
            "task names must be unique",
        ),
        ("tasks: [{name: a, kind: loss, data: x.jsonl, weight: -1}]", "weights must be finite"),
        ("tasks: []", "non-empty list"),
        ("tasks: [{data: x.jsonl}]", "with a 'kind'"),
        ("kind: loss\ndata: [unclosed", "malformed YAML at line 2"),
        ("- just a list", "expected a mapping"),
        ("kind: loss", "missing 1 required positional argument: 'data'"),
    ],
)
def test_bad_task_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert any(message in p for p in info.value.problems), info.value.problems


def test_paths_in_task_files_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.yaml").write_text("kind: loss\ndata: held.jsonl\n")
    suite = load_suite(tmp_path / "sub" / "t.yaml")
    task = suite.tasks[0]
    assert task.name == "t" and isinstance(task.evaluator, LossTask)
    assert task.evaluator.data == str((tmp_path / "sub" / "held.jsonl").resolve())


def test_task_files_cannot_run_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("kind: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError, match="YAML tag refused"):
        load_suite(path)
    assert not (tmp_path / "pwned").exists()


USER_MODULE = textwrap.dedent(
    """
    import math
    from mixopt.evaluators import EvalResult

    class CountParams:
        def evaluate(self, model, tokenizer):
            return EvalResult(1.0, {"params": float(sum(p.numel() for p in model.parameters()))})

    counter = CountParams()

    class Broken:
        def evaluate(self, model, tokenizer):
            raise RuntimeError("disk on fire")

    class NotANumber:
        def evaluate(self, model, tokenizer):
            return EvalResult(math.nan, {})

    threshold = 0.5  # not an evaluator, nor a factory of one

    def make(scale=2.0):
        class Scaled:
            def evaluate(self, model, tokenizer):
                return EvalResult(scale, {})
        return Scaled()
    """
)


@pytest.fixture()
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_evals.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_evals"


def test_user_evaluators_by_module_attr(user_module: str, tiny_model: Any, tmp_path: Path) -> None:
    model, tok = tiny_model
    for ref in (f"{user_module}:counter", f"{user_module}:CountParams"):
        suite = make_evaluator(ref)
        assert (
            suite.evaluate(model, tok).metrics[
                "counter/params" if ref.endswith("counter") else "CountParams/params"
            ]
            > 0
        )
    (tmp_path / "t.yaml").write_text(
        f"tasks:\n  - {{name: s, kind: '{user_module}:make', scale: 3.0}}\n"
    )
    assert load_suite(tmp_path / "t.yaml").evaluate(model, tok).score == 3.0


def test_user_evaluator_failures_are_one_line(user_module: str) -> None:
    with pytest.raises(
        EvaluationError, match="evaluator 'Broken' failed: RuntimeError: disk on fire"
    ):
        make_evaluator(f"{user_module}:Broken").evaluate(None, None)
    with pytest.raises(EvaluationError, match="non-finite score"):
        make_evaluator(f"{user_module}:NotANumber").evaluate(None, None)
    with pytest.raises(ConfigError, match="has no attribute 'Nope'"):
        make_evaluator(f"{user_module}:Nope")
    with pytest.raises(ConfigError, match="'my_evals:threshold': not an object with evaluate"):
        make_evaluator(f"{user_module}:threshold")
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_x'"):
        make_evaluator("no_such_module_x:thing")


def test_evaluator_references() -> None:
    suite = EvalSuite((NamedTask("a", _Fixed(1.0)),))
    assert make_evaluator(suite) is suite
    assert make_evaluator(_Fixed(0.5)).tasks[0].name == "_Fixed"
    with pytest.raises(ConfigError, match="needs data"):
        make_evaluator("loss")
    with pytest.raises(ConfigError, match="give a task file"):
        make_evaluator(42)


def test_a_wrong_return_type_is_caught() -> None:
    class Wrong:
        def evaluate(self, model: Any, tokenizer: Any) -> Any:
            return 0.5

    with pytest.raises(EvaluationError, match="returned float, not an EvalResult"):
        run_task(NamedTask("w", Wrong()), None, None)


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        return EvalResult(self.value, {"value": self.value})


MARKER_MODULE = """
import pathlib
pathlib.Path(__file__).with_name("imported").write_text("yes")

class Fixed:
    def evaluate(self, model, tokenizer):
        from mixopt.evaluators import EvalResult
        return EvalResult(1.0, {})
"""


def test_only_module_attr_references_import_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name (on the command line or as a task's kind) is looked up, never imported; code
    runs only when named explicitly as module:attr."""
    import sys

    (tmp_path / "marker_evals.py").write_text(MARKER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "t.yaml").write_text("kind: marker_evals\n")
    for attempt in (
        lambda: make_evaluator("marker_evals"),
        lambda: load_suite(tmp_path / "t.yaml"),
    ):
        with pytest.raises(ConfigError):
            attempt()
        assert not (tmp_path / "imported").exists() and "marker_evals" not in sys.modules
    suite = make_evaluator("marker_evals:Fixed")
    assert (tmp_path / "imported").exists() and suite.evaluate(None, None).score == 1.0
    monkeypatch.delitem(sys.modules, "marker_evals")


@pytest.mark.parametrize(
    ("kind", "key"), [("loss", "data"), ("sql_execution", "database"), ("lm_eval", "include_path")]
)
def test_task_files_name_local_paths_only(tmp_path: Path, kind: str, key: str) -> None:
    options = {"data": "q.jsonl"} if kind != "lm_eval" else {"tasks": ["x"]}
    task = {"kind": kind, **options, key: "https://example.com/x"}
    (tmp_path / "t.yaml").write_text(json.dumps(task))  # JSON is YAML
    with pytest.raises(ConfigError, match=f"{key} must be a local path, got the URL"):
        load_suite(tmp_path / "t.yaml")


def test_a_task_problem_does_not_hide_the_others(tmp_path: Path) -> None:
    """The tasks that parse make a suite whose data is still checked, beside every problem."""
    from mixopt.evaluators.tasks import EVALUATORS, check_evaluator

    (tmp_path / "held.jsonl").write_text('{"text": "held out"}\n')
    path = tmp_path / "t.yaml"
    path.write_text(
        "tasks:\n  - {name: a, kind: LOSS, data: held.jsonl}\n  - {name: b, type: loss, data: held.jsonl}\n"
        "  - {name: c, kind: loss, data: sub/gone.jsonl}\nintermediate: z\n"
    )
    suite, problems = check_evaluator(str(path))
    assert (
        suite is not None and [t.name for t in suite.tasks] == ["a"] and suite.intermediate is None
    )
    kinds = ", ".join(EVALUATORS.names())
    assert problems == [
        f"{path}: task #2: expected a mapping with a 'kind' (the evaluator: one of {kinds}, or module:attr); "
        "unknown key 'type'. Did you mean: kind?",
        f"{path}: task #3 (c): evaluation data not found: {tmp_path.resolve()}/sub/gone.jsonl "
        f"(paths are relative to {path.resolve()}, the file that names them)",
        f"{path}: intermediate task 'z' is not one of ['a']",
    ]
    with pytest.raises(ConfigError) as info:
        load_suite(path)  # files are read later, when checked
    assert len(info.value.problems) == 2
