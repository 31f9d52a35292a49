"""What the benchmarks that run real trials in a process pool share (not a script):
`demo_problem.py` and `code_suite.py` each keep one JSON line per (mixture, seed) trial and
rebuild the tokenized domains and the evaluator once per worker process."""

from __future__ import annotations

import itertools
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

STATE: dict[str, Any] = {}
"""This worker's setup, tokenized domains (``domains``) and evaluator suite (``suite``)."""


def worker_init(setup: Any) -> None:
    """Load what every trial of ``setup`` (its ``model``, ``domains`` file, domain ``names``
    and ``task`` file) needs into :data:`STATE`, once per worker process."""
    os.environ["OMP_NUM_THREADS"] = "1"  # two 1-thread trials beat one 2-thread trial here
    warnings.filterwarnings("ignore")
    import optuna

    from mixopt.cli._common import quiet_libraries
    from mixopt.data.spec import load_domains
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.models import load_tokenizer

    quiet_libraries()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    specs = [s for s in load_domains(setup.domains) if s.name in setup.names]
    STATE["domains"] = tuple(tokenize_domains(specs, load_tokenizer(setup.model)))
    STATE["suite"] = make_evaluator(setup.task)
    STATE["setup"] = setup


def read_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The cached trials in ``path`` (JSON lines), by their ``key``; nothing if absent."""
    out: dict[str, dict[str, Any]] = {}
    if os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            out[row["key"]] = row
    return out


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:  # one short line per append: whole or absent after a crash
        f.write(json.dumps(row) + "\n")


def simplex_grid(k: int, step: int) -> list[tuple[float, ...]]:
    """Every mixture of k shares in multiples of 1/step (stars and bars)."""
    points = []
    for cut in itertools.combinations(range(step + k - 1), k - 1):
        parts = np.diff([-1, *cut, step + k - 1]) - 1
        points.append(tuple(float(p) / step for p in parts))
    return points
