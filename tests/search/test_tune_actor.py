"""Ray Tune's side of a job (mixopt/search/executors/_tune.py's TrialActor), driven as Tune
drives it, step by step, without a cluster: a stopped job ends at the report it waits at
before the reused actor takes the next job, and a job's error reaches Tune twice (as its last
result, then raised), as the study loop and Tune's error files expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mixopt.plans import OnePass
from mixopt.search.executors.context import StudyContext
from mixopt.trial import TrialSpec


class Steps:
    """A trivial trial that reports at steps 1 to 3 and logs what it did."""

    def __init__(self, log: list[tuple[Any, ...]], fail_at: int | None = None) -> None:
        self.log, self.fail_at = log, fail_at

    def __call__(self, spec: TrialSpec, report: Any) -> Any:
        try:
            for step in (1, 2, 3):
                self.log.append(("trained", spec.seed, step))
                if step == self.fail_at:
                    raise RuntimeError(f"fault at step {step}")
                report(step, 3, float(step))
        finally:
            self.log.append(("ended", spec.seed))
        raise AssertionError("not reached in these tests")


def _actor(runner: Steps, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from mixopt.search.executors._tune import TrialActor

    # outside Tune, a trainable makes its folder in ~/ray_results
    monkeypatch.setattr("ray.tune.trainable.trainable.DEFAULT_STORAGE_PATH", str(folder))

    context = StudyContext(TrialSpec("unused", (), {}, 1, None, plan=OnePass()), runner=runner)

    class Actor(TrialActor):  # what tune.with_parameters(TrialActor, context=...) makes
        def setup(self, config: dict[str, Any]) -> None:  # type: ignore[override]
            super().setup(config, context=context)

    return Actor(config={"number": 0, "mixture": {}, "train": {}, "seed": 1})


def test_a_stopped_job_ends_at_its_report_before_the_next_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[tuple[Any, ...]] = []
    actor = _actor(Steps(log), tmp_path, monkeypatch)
    assert actor.train()["intermediate"] == 1.0
    # Tune stopped the job at its first report and hands the actor the next one
    assert actor.reset_config({"number": 1, "mixture": {}, "train": {}, "seed": 2})
    assert log == [("trained", 1, 1), ("ended", 1)]
    assert actor.train()["intermediate"] == 1.0
    assert actor.train()["intermediate"] == 2.0
    actor.stop()
    assert log[2:] == [("trained", 2, 1), ("trained", 2, 2), ("ended", 2)]


def test_a_failing_job_reports_its_error_then_raises_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = _actor(Steps([], fail_at=2), tmp_path, monkeypatch)
    assert actor.train()["intermediate"] == 1.0
    result = actor.train()
    assert result["error"] == "RuntimeError: fault at step 2"
    assert "fault at step 2" in result["traceback"] and not result.get("done")
    with pytest.raises(RuntimeError, match="fault at step 2"):
        actor.train()
    actor.stop()
