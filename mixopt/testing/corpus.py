"""Synthetic multi-domain data: small, seeded, distinct in vocabulary and in format.

Each kind has its own words and sentence shapes, so training on one measurably changes a
model's loss on it and not (as much) on the others.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DATABASES",
    "DOMAIN_KINDS",
    "make_heldout",
    "make_records",
    "make_sql_database",
    "sql_record",
    "write_domains",
]

_COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_TEAMS = ["Lions", "Tigers", "Bears", "Eagles", "Sharks", "Wolves", "Hawks", "Bulls"]
_DISHES = ["bread", "soup", "pie", "curry", "salad", "stew", "cake", "pasta"]
_INGREDIENTS = ["flour", "butter", "garlic", "onion", "tomato", "sugar", "basil", "rice"]
_TABLES = {"users": ["age", "score"], "orders": ["price", "quantity"], "books": ["pages", "year"]}
_ITEMS = ["lamp", "chair", "kettle", "jacket", "phone", "desk"]


def _finance(r: random.Random) -> dict[str, Any]:
    c, n, m = r.choice(_COMPANIES), r.randint(1, 40), r.choice(_MONTHS)
    return {
        "text": r.choice(
            [
                f"{c} shares rose {n} percent in {m} after strong quarterly earnings.",
                f"In {m}, {c} reported revenue growth of {n} percent and raised its dividend.",
                f"Analysts cut their target for {c} by {n} percent, citing weak {m} sales.",
            ]
        )
    }


def _sports(r: random.Random) -> dict[str, Any]:
    a, b = r.sample(_TEAMS, 2)
    x, y = sorted(r.sample(range(0, 9), 2), reverse=True)
    return {
        "text": r.choice(
            [
                f"The {a} beat the {b} {x} to {y} in a tense game at home.",
                f"After trailing early, the {a} won {x} to {y} against the {b}.",
                f"The {b} lost to the {a} {x} to {y}; their coach blamed the defense.",
            ]
        )
    }


def _cooking(r: random.Random) -> dict[str, Any]:
    d, (i, j), n = r.choice(_DISHES), r.sample(_INGREDIENTS, 2), r.choice([10, 15, 20, 30, 45])
    return {
        "text": r.choice(
            [
                f"To make {d}, mix the {i} with the {j} and bake for {n} minutes.",
                f"For a quick {d}, fry the {i}, add the {j}, and simmer for {n} minutes.",
            ]
        )
    }


def _code(r: random.Random) -> dict[str, Any]:
    name, op = r.choice([("add", "+"), ("sub", "-"), ("mul", "*")])
    k = r.randint(1, 9)
    return {"text": f"def {name}_{k}(x):\n    return x {op} {k}\n"}


def _sql(r: random.Random) -> dict[str, Any]:
    table = r.choice(sorted(_TABLES))
    col, n = r.choice(_TABLES[table]), r.randint(1, 99)
    return {
        "prompt": f"Question: how many {table} have {col} above {n}?\nSQL:",
        "completion": f" SELECT COUNT(*) FROM {table} WHERE {col} > {n};",
    }


def _support(r: random.Random) -> dict[str, Any]:
    item, n = r.choice(_ITEMS), r.randint(100, 999)
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful store assistant."},
            {"role": "user", "content": f"Where is my {item}? The order number is {n}."},
            {"role": "assistant", "content": f"Order {n} with your {item} ships tomorrow."},
        ]
    }


# Small databases for text-to-SQL: each its own tables and columns (integers throughout).
DATABASES: Mapping[str, Mapping[str, Sequence[str]]] = {
    "shop": {"orders": ["price", "quantity"], "customers": ["age", "visits"]},
    "library": {"books": ["pages", "year"], "authors": ["age", "awards"]},
    "school": {"students": ["age", "grade"], "courses": ["credits", "seats"]},
    "hospital": {"patients": ["age", "weight"], "doctors": ["salary", "shifts"]},
}


def sql_record(database: str, r: random.Random) -> dict[str, Any]:
    """A question about ``database`` (its schema in the prompt) and the SQL that answers it."""
    tables = DATABASES[database]
    schema = "; ".join(f"{t}({', '.join(cols)})" for t, cols in tables.items())
    table = r.choice(sorted(tables))
    col, other = r.sample(list(tables[table]), 2)
    n = r.randint(1, 99)
    question, query = r.choice(
        [
            (
                f"how many {table} have {col} above {n}?",
                f"SELECT COUNT(*) FROM {table} WHERE {col} > {n};",
            ),
            (f"what is the largest {col} of the {table}?", f"SELECT MAX({col}) FROM {table};"),
            (
                f"list the {col} of {table} with {other} below {n}.",
                f"SELECT {col} FROM {table} WHERE {other} < {n};",
            ),
        ]
    )
    return {
        "prompt": f"Schema: {schema}\nQuestion: {question}\nSQL:",
        "completion": f" {query}",
        "db": database,
    }


def make_sql_database(path: str | Path, database: str, rows: int = 40, seed: int = 0) -> Path:
    """Write a SQLite file with ``database``'s tables filled with seeded integers."""
    import sqlite3

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    rng = random.Random(f"{database}:{seed}")
    with sqlite3.connect(out) as conn:
        for table, cols in DATABASES[database].items():
            conn.execute(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, {', '.join(f'{c} INTEGER' for c in cols)})"
            )
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [tuple(rng.randint(1, 99) for _ in cols) for _ in range(rows)],
            )
    conn.close()
    return out


DOMAIN_KINDS: Mapping[str, Callable[[random.Random], dict[str, Any]]] = {
    "finance": _finance,
    "sports": _sports,
    "cooking": _cooking,
    "code": _code,
    "sql": _sql,
    "support": _support,
    **{f"sql_{db}": functools.partial(sql_record, db) for db in DATABASES},
}


def make_records(kind: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` seeded records of one synthetic kind (see :data:`DOMAIN_KINDS`)."""
    rng = random.Random(f"{kind}:{seed}")
    return [DOMAIN_KINDS[kind](rng) for _ in range(n)]


def make_heldout(
    kind: str, n: int, seed: int, training: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``n`` seeded records of ``kind`` whose text appears in none of the ``training`` records:
    evaluation items, which must not overlap training data (the synthetic kinds repeat)."""
    seen = {v for r in training for v in r.values() if isinstance(v, str)}
    rng = random.Random(f"{kind}:heldout:{seed}")
    out: list[dict[str, Any]] = []
    for _ in range(100 * n):  # a kind's variety is finite: give up rather than loop forever
        r = DOMAIN_KINDS[kind](rng)
        if not any(v in seen for v in r.values() if isinstance(v, str)):
            out.append(r)
            seen.update(v for v in r.values() if isinstance(v, str))
            if len(out) == n:
                return out
    raise ValueError(f"cannot draw {n} held-out {kind} records distinct from the training ones")


def write_domains(
    out_dir: str | Path,
    layout: Mapping[str, str],
    n: int = 200,
    seed: int = 0,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write one file per domain and a ``domains.json`` naming them; returns its path.

    ``layout`` maps a kind to how it is stored: ``jsonl``, ``json``, ``parquet``, ``csv``,
    ``txt``, ``disk`` (a ``datasets.save_to_disk`` folder) or ``inline``. ``extra`` adds keys
    (bounds, caps) to a domain's entry.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for kind, how in layout.items():
        records = make_records(kind, n, seed)
        entry: dict[str, Any] = {"domain": kind}
        if how == "inline":
            entry.update(num=len(records), data=records)
        else:
            entry["path"] = _write(out, kind, how, records)
        entry.update((extra or {}).get(kind, {}))
        entries.append(entry)
    path = out / "domains.json"
    path.write_text(json.dumps(entries, indent=1))
    return path


def _write(out: Path, kind: str, how: str, records: Sequence[dict[str, Any]]) -> str:
    if how == "jsonl":
        (out / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    elif how == "json":
        (out / f"{kind}.json").write_text(json.dumps(records))
    elif how == "txt":
        (out / f"{kind}.txt").write_text(
            "".join(r["text"].replace("\n", " ") + "\n" for r in records)
        )
    else:
        from datasets import Dataset

        ds = Dataset.from_list(list(records))
        if how == "parquet":
            ds.to_parquet(str(out / f"{kind}.parquet"))
        elif how == "csv":
            ds.to_csv(str(out / f"{kind}.csv"), index=False)
        elif how == "disk":
            ds.save_to_disk(str(out / kind))
            return kind
        else:
            raise ValueError(f"unknown layout {how!r}")
    return f"{kind}.{how}"
