"""Evaluation data must not overlap training data: shared files and shared items."""

from __future__ import annotations

import json
from pathlib import Path

from mixopt.data import load_domains, tokenize_domains
from mixopt.evaluators.overlap import overlap_problems, shared_files
from mixopt.evaluators.tasks import load_suite
from mixopt.testing import make_records, write_domains


def _suite(tmp_path: Path, rows: list[dict[str, object]]) -> object:
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "t.yaml").write_text("kind: loss\ndata: eval.jsonl\n")
    return load_suite(tmp_path / "t.yaml")


def test_items_found_in_training_records_are_counted(tmp_path: Path, tokenizer: object) -> None:
    specs = load_domains(
        write_domains(tmp_path / "d", {"finance": "jsonl", "support": "jsonl"}, n=30)
    )
    domains = tokenize_domains(specs, tokenizer, tmp_path / "cache")
    finance = make_records("finance", 30, seed=0)
    chat = make_records("support", 30, seed=0)[0]["messages"][-1]["content"]  # inside a chat record
    rows = [
        {
            "text": "  " + finance[0]["text"].replace(" ", "   ") + "\n"
        },  # whitespace does not hide it
        {"prompt": "Q:", "completion": finance[1]["text"]},  # the longest field is the item
        {"text": chat},
        {"text": "An unseen sentence that no training record holds, long enough."},
        {"text": "Yes"},  # short strings are shared by chance, not leaked
    ]
    problems = overlap_problems(_suite(tmp_path, rows), domains)  # type: ignore[arg-type]
    assert problems == [
        "task 't': 2 of 5 evaluation items also appear in training domain 'finance'; "
        "evaluation data must not overlap training data",
        "task 't': 1 of 5 evaluation items also appear in training domain 'support'; "
        "evaluation data must not overlap training data",
    ]


def test_a_task_reading_a_training_file_is_found_through_globs_and_links(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text('{"text": "hello there"}\n')
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "d" / "a.jsonl")
    (tmp_path / "domains.json").write_text('[{"domain": "a", "path": "d/*.jsonl"}]')
    (tmp_path / "t.yaml").write_text("kind: loss\ndata: link.jsonl\n")
    problems = shared_files(
        load_suite(tmp_path / "t.yaml"), load_domains(tmp_path / "domains.json")
    )
    assert len(problems) == 1 and "also training domain 'a''s file" in problems[0]
