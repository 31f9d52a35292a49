"""The study loop on the in-process executor: baselines, proposals, early stopping,
confirmation, failures. No Ray: the loop's decisions do not depend on what runs the trials
(the Ray Tune executor is tested in test_study.py, test_faults.py and test_resume.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mixopt import optimize_mixture
from mixopt.search.orchestration.faults import StudyFailedError
from mixopt.trial import TrialResult, TrialSpec
from tests.support.runners import trivial_result

SPACE = """
mixture: {parameterization: auto}
train:
  learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
"""


@dataclasses.dataclass(frozen=True)
class FinanceTrial:
    """Scores a trial by its finance share (plus its learning rate's closeness to 3e-3); its
    intermediate scores rise towards that score over 4 checkpoints."""

    fail: bool = False

    def __call__(self, spec: TrialSpec, report: Any = None) -> TrialResult:
        if self.fail:
            raise RuntimeError("broken on purpose")
        final = (
            spec.mixture.get("finance", 0.0)
            - abs(spec.train.learning_rate - 3e-3)
            + 1e-3 * spec.seed
        )
        for k in (1, 2, 3, 4):
            if report is not None and report(k, 4, final * k / 4) is False and k < 4:
                return dataclasses.replace(
                    trivial_result(spec, 0.0), score=None, stopped_early=True
                )
        return trivial_result(spec, 0.0, final)


def _study(inputs: dict[str, Any], out: Path, **options: Any) -> Any:
    settings = {
        "budget": "2k",
        "trials": 4,
        "confirm": 0,
        "seed": 1,
        "sampler": "random",
        "executor": "inprocess",
        "out": str(out),
        "quiet": True,
        **options,
    }
    runner = settings.pop("runner", FinanceTrial())
    return optimize_mixture(
        inputs["model"], inputs["domains"], inputs["evaluator"], runner=runner, **settings
    )


def test_baselines_then_proposals_in_process(study_inputs: dict[str, Any], tmp_path: Path) -> None:
    result = _study(study_inputs, tmp_path / "s", tracking_uri="none")
    assert [t.role for t in sorted(result.trials, key=lambda t: t.number)] == [
        "baseline:uniform",
        "baseline:natural",
        "search",
        "search",
        "search",
        "search",
    ]
    assert all(t.state == "COMPLETE" for t in result.trials)
    best = max(result.trials, key=lambda t: t.score)
    assert result.best.mixture == best.mixture and result.best.search_score == best.score
    assert not (tmp_path / "s" / "mlflow.db").exists()  # tracking off: the folder holds everything
    frame = result.trials_dataframe()
    assert len(frame) == 6 and {"share.finance", "score", "role", "state"} <= set(frame.columns)


def test_confirmation_runs_every_candidate_with_the_best_trials_knobs(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    result = _study(study_inputs, tmp_path / "s", space=str(space), confirm=2, trials=5)
    saved = json.loads((tmp_path / "s" / "best_mixture.json").read_text())
    knobs = saved["train"]  # the search's best trial's: every run of the race trains at them
    searched_best = max(
        (t for t in result.trials if t.score is not None), key=lambda t: (t.score, -t.number)
    )
    assert knobs == searched_best.train
    runs = [
        json.loads(line) for line in (tmp_path / "s" / "confirm.jsonl").read_text().splitlines()
    ]
    raced = [r for r in runs if r["train"] == knobs]
    assert {r["name"] for r in raced} >= {"uniform", "natural"}
    assert len(raced) == 2 * len(saved["race"]["entrants"])
    # the rest: the baselines' runs that measured the seed noise during the search, at their
    # own sampled learning rates (the first fresh seed), which the race ran again at the knobs
    others = [r for r in runs if r["train"] != knobs]
    assert {(r["name"], r["seed"]) for r in others} <= {("uniform", 2), ("natural", 2)}
    baseline_lrs = {t.train["learning_rate"] for t in result.trials if t.baseline}
    assert knobs["learning_rate"] not in baseline_lrs or searched_best.baseline
    # the lift compares mixtures at the same knobs: it is the finance shares' difference
    best = next(t for t in result.trials if t.number == saved["best_trial"])
    lr = knobs["learning_rate"]
    for name, c in result.baselines.items():
        expected = best.mixture.get("finance", 0) - c.mixture.get("finance", 0)
        assert result.lift[name] == pytest.approx(expected, abs=1e-9), (name, lr)
        assert result.lifts[name].seeds == 2 and result.lifts[name].spread == pytest.approx(
            0.0, abs=1e-12
        )


def test_early_stopping_prunes_poor_searched_trials_never_a_baseline(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    result = _study(
        study_inputs,
        tmp_path / "s",
        trials=10,
        early_stop="on",
        checkpoints=4,
        baselines={"cooking_only": {"cooking": 1.0}},
    )
    searched = [t for t in result.trials if t.role == "search"]
    pruned = [t for t in searched if t.state == "PRUNED"]
    assert pruned and all(t.state == "COMPLETE" for t in result.trials if t.baseline)
    # a pruned trial was below the median of the earlier searched trials at its checkpoint
    for t in pruned:
        earlier = sorted(
            s.intermediate[1][1]
            for s in searched
            if s.number < t.number and len(s.intermediate) > 1
        )
        assert earlier and t.score is not None and t.score < earlier[len(earlier) // 2] + 1e-12
    assert result.best.search_score == max(t.score for t in result.trials if t.state == "COMPLETE")


def test_a_study_where_every_trial_fails_stops(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(
        StudyFailedError, match=r"the first 3 trials all failed.*RuntimeError: broken on purpose"
    ):
        _study(study_inputs, tmp_path / "s", runner=FinanceTrial(fail=True), trials=6)
    saved = json.loads((tmp_path / "s" / "results.json").read_text())
    assert saved["counts"] == {"trials": 3, "fail": 3}
