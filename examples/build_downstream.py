"""Regenerate the example task files' data under downstream/ (SQLite database, JSONL items).

    python examples/build_downstream.py

The task files themselves (downstream/*.yaml) are written by hand; this writes their data.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from mixopt.testing import make_heldout, make_records, make_sql_database

ROOT = Path(__file__).resolve().parents[1] / "downstream"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    data = ROOT / "data"
    make_sql_database(data / "hospital.sqlite", "hospital", rows=40, seed=0)
    sql = [
        {
            "prompt": r["prompt"],
            "query": r["completion"].strip(),
            "completion": r["completion"],
            "db": "hospital.sqlite",
        }
        for r in make_records("sql_hospital", 40, seed=2024)
    ]
    _jsonl(data / "sql_hospital.jsonl", sql)

    rng = random.Random(7)
    mc = []
    for r in make_records("sports", 40, seed=2024):
        words = r["text"].split()
        cut = len(words) // 2
        wrong = [
            x["text"].split(" ", 3)[-1]
            for x in make_records(rng.choice(["finance", "cooking"]), 2, seed=rng.randint(0, 10**6))
        ]
        choices = [" ".join(words[cut:]), *wrong]
        rng.shuffle(choices)
        mc.append(
            {
                "question": " ".join(words[:cut]),
                "choices": choices,
                "answer": choices.index(" ".join(words[cut:])),
            }
        )
    _jsonl(data / "sports_mc.jsonl", mc)
    _jsonl(ROOT / "lm_eval_tasks" / "sports_mc.jsonl", mc)

    em = [
        {"prompt": f"{r['text'].rsplit(' ', 1)[0]}", "answer": r["text"].rsplit(" ", 1)[1]}
        for r in make_records("cooking", 40, seed=2024)
    ]
    _jsonl(data / "cooking_last_word.jsonl", em)
    # held out from the example's finance domain: evaluation data never overlaps training data
    finance = (ROOT.parent / "examples" / "data" / "finance.jsonl").read_text().splitlines()
    training = [json.loads(line) for line in finance if line.strip()]
    _jsonl(data / "finance_heldout.jsonl", make_heldout("finance", 60, 2024, training))


if __name__ == "__main__":
    main()
