"""Out-of-domain by construction: evaluation data must not overlap training data.

Two checks, both cheap: no task reads a file that a training domain reads, and no evaluation
item's text appears among a training domain's records. An item's text is its longest string
field (the question, the prompt or the held-out text); a domain's records contribute every
string they hold, hashed once when the domain is tokenized (:meth:`TokenizedDomain.text_hashes`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import text_hash
from mixopt.errors import MixoptError
from mixopt.evaluators._data import read_records
from mixopt.evaluators.suite import EvalSuite

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain

__all__ = ["overlap_problems", "shared_files"]


def _task_files(suite: EvalSuite) -> dict[str, str]:
    """Task name -> the evaluation data file it reads (tasks without a ``data`` file are skipped)."""
    out = {}
    for t in suite.tasks:
        data = getattr(t.evaluator, "data", None)
        if isinstance(data, str):
            out[t.name] = os.path.realpath(data)
    return out


def shared_files(suite: EvalSuite, specs: Sequence[DomainSpec]) -> list[str]:
    """One problem per task whose data file is also a training domain's file."""
    from mixopt.data.sources import expand_paths

    owners: dict[str, str] = {}
    for spec in specs:
        try:
            paths = expand_paths(spec) if spec.data is None else []
        except MixoptError:
            continue  # reported where the domain is read
        for p in paths:
            owners[os.path.realpath(p)] = spec.name
    return [
        f"task {name!r}: its data {path} is also training domain {owners[path]!r}'s file; "
        "evaluation data must not be trained on"
        for name, path in _task_files(suite).items()
        if path in owners
    ]


def overlap_problems(suite: EvalSuite, domains: Sequence[TokenizedDomain]) -> list[str]:
    """One problem per (task, domain) pair whose evaluation items appear in the domain's records."""
    import numpy as np

    problems = []
    for name, path in _task_files(suite).items():
        try:
            records = read_records(path)
        except MixoptError:
            continue  # reported by the task's own check
        items = [_item_hash(r) for r in records]
        hashed = np.array([h for h in items if h is not None], dtype=np.int64)
        if not len(hashed):
            continue
        for d in domains:
            found = int(np.isin(hashed, d.text_hashes(), assume_unique=False).sum())
            if found:
                problems.append(
                    f"task {name!r}: {found} of {len(records)} evaluation items also appear in "
                    f"training domain {d.name!r}; evaluation data must not overlap training data"
                )
    return problems


def _item_hash(record: dict[str, object]) -> int | None:
    texts = [v for v in record.values() if isinstance(v, str)]
    return text_hash(max(texts, key=len)) if texts else None
