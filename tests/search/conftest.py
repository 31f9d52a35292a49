from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixopt.testing import make_heldout, make_records, write_domains

TASKS = """
tasks:
  - name: finance_loss
    kind: loss
    data: finance.jsonl
intermediate: finance_loss
"""


@pytest.fixture(scope="session")
def study_inputs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:
    """Three domains and an 'out-of-domain' task that finance data helps (its held-out loss)."""
    root = tmp_path_factory.mktemp("study-inputs")
    domains = write_domains(
        root / "data", {"finance": "jsonl", "cooking": "jsonl", "sports": "jsonl"}, n=600, seed=1
    )
    training = make_records("finance", 600, seed=1)  # what write_domains wrote for finance
    (root / "finance.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in make_heldout("finance", 40, 555, training))
    )
    (root / "tasks.yaml").write_text(TASKS)
    return {
        "model": str(tiny_model_dir),
        "domains": str(domains),
        "evaluator": str(root / "tasks.yaml"),
        "root": root,
    }


# small and quick: 4k tokens of 64-token sequences, batches of 8 (8 steps), 3 checkpoints
FAST_TRAIN = {"seq_len": 64, "batch_size": 8, "learning_rate": 3e-3, "checkpoints": 3}


@pytest.fixture(scope="session")
def finished_study(study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished study (2 baselines, 2 searched trials, each winner confirmed on one
    fresh seed), for the tests that open its storage the way the UIs do."""
    from mixopt import optimize_mixture

    out = tmp_path_factory.mktemp("finished") / "demo-study"
    optimize_mixture(
        study_inputs["model"], study_inputs["domains"], study_inputs["evaluator"], budget="2k",
        train=FAST_TRAIN, trials=2, concurrency=2, sampler="random", confirm=1, seed=7,
        early_stop="off", out=str(out), quiet=True,
    )  # fmt: skip
    return out
