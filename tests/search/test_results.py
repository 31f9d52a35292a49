"""``optimize_mixture(model, data, evaluator)`` takes the CLI's names and returns a result with a table of its trials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from mixopt.errors import ConfigError
from tests.search.test_loop import FinanceTrial

QUICK = {
    "budget": "2k",
    "trials": 1,
    "confirm": 0,
    "sampler": "random",
    "executor": "inprocess",
    "tracking_uri": "none",
    "quiet": True,
    "runner": FinanceTrial(),
}


def test_optimize_mixture_takes_the_options_names(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    # optimize_mixture(model, data, evaluator): positionally, or by those names
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        out=str(tmp_path / "a"),
        **QUICK,
    )
    assert len(result.trials) == 3 and set(result.best_mixture) == {"finance", "cooking", "sports"}
    named = optimize_mixture(
        model=study_inputs["model"],
        data=study_inputs["domains"],
        evaluator=study_inputs["evaluator"],
        out=str(tmp_path / "b"),
        **QUICK,
    )
    assert [t.mixture for t in named.trials] == [t.mixture for t in result.trials]
    # one name for the domains: the spec's flat name is refused here, before anything runs
    with pytest.raises(ConfigError, match=r"the domains are data="):
        optimize_mixture(
            model=study_inputs["model"],
            domains=study_inputs["domains"],
            evaluator=study_inputs["evaluator"],
            out=str(tmp_path / "c"),
            **QUICK,
        )
    assert not (tmp_path / "c").exists()


def test_trials_dataframe_has_a_row_a_trial(three_domain_run: dict[str, Any]) -> None:
    import pandas as pd

    result = three_domain_run["result"]
    frame = result.trials_dataframe()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(result.trials) == 5
    assert list(frame["number"]) == sorted(t.number for t in result.trials)
    assert {
        "number",
        "role",
        "state",
        "score",
        "share.finance",
        "share.cooking",
        "share.sports",
        "metric.finance_loss/loss",
        "datetime_start",
        "datetime_complete",
        "duration",
        "error",
    } <= set(frame.columns)
    shares = frame[["share.finance", "share.cooking", "share.sports"]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx(1.0)
    assert (frame["duration"] > pd.Timedelta(0)).all() and set(frame["state"]) == {"COMPLETE"}
    best = frame.loc[frame["score"].idxmax()]
    assert best["number"] == max(result.trials, key=lambda t: (t.score, -t.number)).number
    assert list(frame["role"][:2]) == ["baseline:uniform", "baseline:natural"]
