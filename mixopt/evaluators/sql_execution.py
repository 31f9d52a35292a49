"""``sql_execution``: generated SQL run against a SQLite database; its result compared with the
gold query's (execution accuracy, the standard text-to-SQL measure).

Queries run on a read-only connection that also refuses, through an authorizer, every
statement but reading (no writes, ATTACH, PRAGMA or functions that touch files), and each
query is interrupted after ``timeout_s``.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mixopt.errors import ConfigError
from mixopt.evaluators._base import EvalResult
from mixopt.evaluators._data import fill_template, named_fields, read_records, require_fields
from mixopt.evaluators._lm import generate
from mixopt.evaluators.exact_match import normalize_answer

__all__ = ["QueryOutcome", "SqlExecutionTask", "run_query"]

# reading only: SELECT, column reads, functions, and WITH RECURSIVE (code 33)
_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_BLOCKED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


@dataclass(frozen=True)
class QueryOutcome:
    rows: list[tuple[Any, ...]] | None
    """Result rows, or None when the query failed."""
    error: str | None = None
    """Why it failed (``timeout`` when it ran out of time)."""


def _authorizer(
    action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _BLOCKED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def run_query(database: str | Path, sql: str, timeout_s: float = 2.0) -> QueryOutcome:
    """Run one read-only query with a time limit; never raises for a bad query."""
    conn = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_authorizer)
        deadline = time.monotonic() + timeout_s
        # called every 10k virtual-machine steps; a non-zero return interrupts the query
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            return QueryOutcome(conn.execute(sql).fetchall())
        except sqlite3.OperationalError as exc:
            return QueryOutcome(None, "timeout" if "interrupted" in str(exc) else str(exc))
        except (sqlite3.Error, ValueError) as exc:  # ValueError: e.g. a NUL character in the query
            return QueryOutcome(None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def results_match(
    predicted: list[tuple[Any, ...]], gold: list[tuple[Any, ...]], ordered: bool
) -> bool:
    """Same rows (as a multiset, or in order when the gold query sorts)."""
    return predicted == gold if ordered else Counter(predicted) == Counter(gold)


@dataclass(frozen=True)
class SqlExecutionTask:
    """Generate SQL for each question and score it by executing it. Score: execution accuracy.
    Also reports exact match of the normalized SQL, and the rates of errors and timeouts."""

    score_scale: ClassVar[str] = "fraction"  # see EvalSuite: scales are never mixed silently

    data: str
    """JSONL file: a prompt (or the fields of ``template``), the gold ``query``, optionally ``db``."""
    database: str | None = None
    """SQLite file the queries run on; a record's ``db`` field overrides it (Spider-style)."""
    prompt_field: str = "prompt"
    template: str | None = None
    """``str.format`` template over the record's fields, e.g. ``"Question: {question}\\nSQL:"``."""
    query_field: str = "query"
    db_field: str = "db"
    max_new_tokens: int = 96
    stop: tuple[str, ...] = ("\n",)
    timeout_s: float = 2.0
    """Time limit of each query."""
    limit: int | None = None
    batch_size: int = 16

    def _items(self) -> list[tuple[str, str, str]]:
        records = read_records(self.data, self.limit)
        fields = {**named_fields(self.template, self.prompt_field), self.query_field: "query_field"}
        require_fields(records, fields, self.data)
        base = Path(self.data).parent
        items = []
        for i, r in enumerate(records):
            db = r.get(self.db_field) or self.database
            if not db:
                raise ConfigError(
                    f"{self.data}: record {i} names no database (set 'database' or a {self.db_field!r} field)"
                )
            path = (base / db).resolve() if not Path(db).is_absolute() else Path(db)
            if not path.is_file():
                raise ConfigError(f"{self.data}: record {i}: database {db} not found")
            items.append(
                (
                    fill_template(self.template, r, self.prompt_field),
                    str(r[self.query_field]),
                    str(path),
                )
            )
        return items

    def check(self) -> None:
        """Also runs every gold query: a gold query that fails is a broken task, not a miss."""
        for i, (_, gold, db) in enumerate(self._items()):
            outcome = run_query(db, gold, self.timeout_s)
            if outcome.rows is None:
                raise ConfigError(f"{self.data}: record {i}: gold query fails ({outcome.error})")

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        items = self._items()
        preds = generate(
            model,
            tokenizer,
            [p for p, _, _ in items],
            self.max_new_tokens,
            self.stop,
            self.batch_size,
        )
        right = exact = errors = timeouts = 0
        for pred, (_, gold, db) in zip(preds, items, strict=True):
            exact += int(normalize_answer(pred) == normalize_answer(gold))
            want = run_query(db, gold, self.timeout_s)
            if want.rows is None:
                raise ConfigError(f"{self.data}: gold query {gold!r} fails ({want.error})")
            got = run_query(db, pred, self.timeout_s)
            errors += int(got.rows is None)
            timeouts += int(got.error == "timeout")
            right += int(
                got.rows is not None
                and results_match(got.rows, want.rows, "order by" in gold.lower())
            )
        n = len(items)
        return EvalResult(
            right / n,
            {
                "execution_accuracy": right / n,
                "exact_match": exact / n,
                "error_rate": errors / n,
                "timeout_rate": timeouts / n,
                "items": float(n),
            },
        )
