"""A study driver for the kill tests: runs (or resumes) a study of trivial trials and, when
asked, stops at a chosen point and says so in a file, where the test kills it with SIGKILL.

    python -m tests.search.killable_study SETTINGS.json

Points: ``trial`` (call K of the runner works until killed), ``mlflow`` (the K-th closing
of a trial's MLflow run: its figures are logged, its status not yet), ``report`` (writing
``results.json`` or ``best_mixture.json``: the temporary file is written, not yet renamed).
Also the sampler of these studies: the n-th searched trial always gets the same proposal,
however often the study was killed, so a killed study can be compared with one that was not.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import optuna

from tests.support.runners import FaultyTrial

SAMPLER = "tests.search.killable_study:make_sampler"


class IndexedSampler(optuna.samplers.RandomSampler):
    """Proposal n of the searched trials (not counting those a kill interrupted) is a fixed
    function of n."""

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        n = sum(
            1
            for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("role", "search") == "search"
            and "mixture" in t.user_attrs
            and not t.user_attrs.get("interrupted")
        )
        u = random.Random(f"{n}-{name}").random()
        return distribution.low + u * (distribution.high - distribution.low)


def make_sampler(seed: int, startup: int) -> IndexedSampler:
    return IndexedSampler(seed=seed)


def _pause(ready: Path) -> None:
    ready.touch()
    time.sleep(600)  # until killed


def install_pause(point: str, at: Any, ready: Path) -> None:
    if point == "mlflow":
        from mixopt.search.tracking.tracker import MlflowTracker

        real = MlflowTracker.finish_trial
        count = [0]

        def finish_trial(self: MlflowTracker, *args: Any, **kwargs: Any) -> None:
            count[0] += 1
            if count[0] == at:
                self.client.set_terminated = lambda *a, **k: _pause(ready)
            real(self, *args, **kwargs)

        MlflowTracker.finish_trial = finish_trial  # type: ignore[method-assign]
    elif point == "report":
        real_replace = os.replace

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            if Path(dst).name == at:
                _pause(ready)
            real_replace(src, dst, **kwargs)

        os.replace = replace


def main(settings: dict[str, Any]) -> None:
    from mixopt import optimize_mixture, resume_search

    point, at, ready = settings.get("point"), settings.get("at"), Path(settings["ready"])
    faults = (None,) * at + ("slow",) if point == "trial" else ()
    runner = FaultyTrial(settings["calls"], faults)
    install_pause(str(point), at, ready)
    if settings.get("resume"):
        resume_search(settings["out"], quiet=True, runner=runner)
    else:
        optimize_mixture(
            settings["model"],
            settings["domains"],
            settings["evaluator"],
            runner=runner,
            **settings["options"],
            out=settings["out"],
            quiet=True,
        )


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
