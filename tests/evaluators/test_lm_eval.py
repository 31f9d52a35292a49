from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.errors import ConfigError
from mixopt.evaluators import LmEvalTask, MultipleChoiceTask

DOWNSTREAM = Path(__file__).resolve().parents[2] / "downstream"


@pytest.mark.slow
def test_lm_eval_task_on_local_files_agrees_with_the_builtin(
    tiny_model: Any, tmp_path: Path
) -> None:
    pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the optional 'lm-eval' extra")
    model, tok = tiny_model
    items = [
        json.loads(line)
        for line in (DOWNSTREAM / "lm_eval_tasks" / "sports_mc.jsonl").read_text().splitlines()
    ]
    # make half the items hard: swap the answer key so accuracy is not trivially 1
    for item in items[::2]:
        item["answer"] = (item["answer"] + 1) % len(item["choices"])
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "sports_mc.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tasks / "task.yaml").write_text(
        (DOWNSTREAM / "lm_eval_tasks" / "mixopt_sports_mc.yaml").read_text()
    )
    ours = MultipleChoiceTask(str(tasks / "sports_mc.jsonl")).evaluate(model, tok)
    theirs = LmEvalTask(("mixopt_sports_mc",), include_path=str(tasks)).evaluate(model, tok)
    assert theirs.score == pytest.approx(ours.metrics["accuracy"])
    assert theirs.metrics["mixopt_sports_mc/acc_norm"] == pytest.approx(
        ours.metrics["accuracy_norm"]
    )
    assert 0 < theirs.score < 1


def test_lm_eval_unknown_task(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the optional 'lm-eval' extra")
    with pytest.raises(ConfigError, match="unknown task 'no_such_task_here'"):
        LmEvalTask(("no_such_task_here",), include_path=str(tmp_path)).check()
