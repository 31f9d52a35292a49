"""Out-of-domain by construction: evaluation data must not overlap training data.

Two checks, both cheap: no task reads a file that a training domain reads, and no evaluation
item's text appears among a training domain's records. An item's text is its longest string
field (the question, the prompt or the held-out text); a domain's records contribute every
string they hold, hashed once when the domain is tokenized (:meth:`TokenizedDomain.text_hashes`).
The records ``--in-domain`` holds out of each domain are evaluation items too: checked against
every pool the same way (:func:`held_out_overlap`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import text_hash
from mixopt.errors import MixoptError
from mixopt.evaluators._data import read_records
from mixopt.evaluators.suite import EvalSuite

if TYPE_CHECKING:
    import numpy as np

    from mixopt.data.tokenize import TokenizedDomain

__all__ = ["held_out_items", "held_out_overlap", "overlap_problems", "shared_files"]


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


def held_out_items(held: TokenizedDomain) -> np.ndarray:
    """The item hash of each of a domain's held-out records (``--in-domain``), as this module
    hashes an evaluation item (its longest string; 0: too short to compare), in the order of
    the records it keeps."""
    import numpy as np

    from mixopt.data.tokenize import HELD_OUT

    path = Path(held.path).parent
    if path.name != HELD_OUT:
        raise MixoptError(f"domain {held.name!r}: not a domain's held-out records")
    items: np.ndarray = np.load(path / "items.npy")
    return items if held.rows is None else items[np.asarray(held.rows)]


def held_out_overlap(
    held: Sequence[TokenizedDomain], pools: Sequence[TokenizedDomain]
) -> list[str]:
    """One problem per (held-out domain, pool) pair where a held-out record's text is also among
    the pool's records: what ``in_domain`` scores must never be trained on."""
    import numpy as np

    problems = []
    for h in held:
        items = held_out_items(h)
        items = items[items != 0]
        for d in pools:
            found = int(np.isin(items, d.text_hashes()).sum())
            if found:
                problems.append(
                    f"in_domain: {found} of the {h.num_records} records held out of domain {h.name!r} also "
                    f"appear in training domain {d.name!r}; held-out records must not be trained on"
                )
    return problems
