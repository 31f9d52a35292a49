"""A second real study for the report tests, beside the three-domain one they share with the
UI tests (tests/conftest.py): four domains, the baselines and one trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from mixopt.testing import write_domains
from tests.conftest import FAST_TRAIN, once


@pytest.fixture(scope="session")
def four_domain_study(
    study_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Four domains, 3 completed trials (too few for importances), no confirmation runs."""

    def make(root: Path) -> Path:
        domains = write_domains(
            root / "data",
            {"finance": "jsonl", "cooking": "jsonl", "sports": "jsonl", "code": "jsonl"},
            n=600,
            seed=1,  # study_inputs' seed: its held-out finance items stay out of this data
        )
        out = root / "study"
        optimize_mixture(
            study_inputs["model"],
            str(domains),
            study_inputs["evaluator"],
            budget="4k",
            train=FAST_TRAIN,
            trials=1,
            concurrency=2,
            sampler="random",
            confirm=0,
            seed=1,
            out=str(out),
            quiet=True,
        )
        return out

    return once(tmp_path_factory, "four-domain-study", make)
