"""Confirmation runs: the best mixture and the baselines again, on fresh seeds.

The best of many noisy trials is biased upward (it won partly by luck); re-running it and
the baselines on seeds no trial used gives scores that can be compared fairly. Every
candidate runs with the best trial's training knobs and filter thresholds: when the space searches knobs (a
learning rate, a LoRA rank) beside the mixture, a baseline's own sampled knobs would mix
their effect into the lift, which is meant to measure the mixture's. Each run is appended
to ``confirm.jsonl`` as it finishes (with its budget), so a resumed study redoes only what
is missing. A transfer check (``mixopt confirm OUT --budget 500k``) makes the same jobs at
another budget: the study's answer, tried where it will be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixopt.errors import ConfigError, InfeasibleMixtureError
from mixopt.search.executors._base import Job
from mixopt.setting import is_int
from mixopt.study.summary import Confirmation, runs_at
from mixopt.study.trials import TrialRecord

if TYPE_CHECKING:
    from mixopt.search.orchestration.study import Study

__all__ = ["CONFIRM_BASE", "TRANSFERRED", "check_transfer", "confirmation_jobs"]

CONFIRM_BASE = 100_000  # MLflow numbers of confirmation runs start here (apart from Optuna's)
TRANSFERRED = ("uniform", "natural")  # the baselines a transfer check re-runs beside the best


def confirmation_jobs(
    trials: Sequence[TrialRecord],
    best: int,
    done: Sequence[Confirmation],
    seeds: int,
    seed: int,
    budget: int,
    own: int | None = None,
) -> list[Job]:
    """The runs still missing at ``budget``: each completed baseline and the best trial on
    ``seeds`` fresh seeds after ``seed``. A baseline that won is run once, under its own
    name. ``own``: the study's budget; a ``budget`` other than it makes these the runs of a
    transfer check."""
    by_number = {t.number: t for t in trials}
    candidates = {t.baseline: t for t in trials if t.baseline is not None and t.state == "COMPLETE"}
    if best not in {t.number for t in candidates.values()}:
        candidates["best"] = by_number[best]
    knobs = dict(by_number[best].train)
    here = runs_at(done, budget)
    transfer = own is not None and budget != own
    # a run at other knobs (an earlier best's, before the study grew) runs again at these
    have = {(c.name, c.seed, c.source) for c in here if c.train in ({}, knobs)}
    jobs: list[Job] = []
    for name, t in candidates.items():
        if transfer and name not in TRANSFERRED and t.number != best:
            continue  # a transfer check: the best and the built-in baselines only
        for k in range(seeds):
            fresh = seed + 1 + k  # fresh seeds: new data samples and LoRA initializations
            if (name, fresh, t.number) not in have:
                # every budget's runs: numbers stay unique
                number = CONFIRM_BASE + len(done) + len(jobs)
                # each run as it was searched: its own filters
                jobs.append(
                    Job(
                        number,
                        f"confirm:{name}",
                        dict(t.mixture),
                        knobs,
                        fresh,
                        True,
                        t.number,
                        filters=dict(t.filters),
                    )
                )
    return jobs


def check_transfer(study: Study, budget: int, seeds: int) -> None:
    """Refuse, in one line and before anything runs, a transfer check that cannot run: a
    study that has not finished, the study's own budget, or a budget at which the best
    mixture or a baseline passes a repetition cap (naming the largest budget that fits)."""
    from mixopt.budget import format_budget
    from mixopt.data.allocation import largest_budget, normalize_mixture
    from mixopt.study.summary import best_number

    store, own = study.store, study.spec.search.budget
    if not is_int(seeds) or seeds < 1:
        raise ConfigError("--seeds must be a positive integer")
    pending = len(study.baselines) + study.spec.search.trials - len(store.finished())
    if not store.path(store.BEST).is_file() or pending > 0:
        why = f"{pending} trials still to run" if pending > 0 else f"no {store.BEST}"
        raise ConfigError(
            f"{store.folder}: the study has not finished ({why}); finish it with mixopt search --resume {store.folder}"
        )
    if budget == own:
        raise ConfigError(
            f"--budget {format_budget(budget)} is the study's own budget; re-run its confirmation on more seeds with mixopt search --resume {store.folder} --confirm {seeds}"
        )
    if problems := study.context.trial.plan.problems(study.pools, budget):
        raise ConfigError(problems)  # e.g. a left-out domain's pass would not fit the budget
    trials = store.trials()
    best = best_number(trials, study.spec.search.pick)
    mixtures = {
        t.baseline or "best": t.mixture
        for t in trials
        if t.number == best or t.baseline in TRANSFERRED
    }
    fits = {
        n: largest_budget(normalize_mixture(m, study.pools), study.pools)
        for n, m in mixtures.items()
    }
    over = sorted(n for n, b in fits.items() if b < budget)
    if over:
        largest = min(fits.values())
        raise InfeasibleMixtureError(
            f"budget {format_budget(budget)} is past the repetition caps of the {' and '.join(over)} mixture{'s' * (len(over) > 1)}; "
            f"the largest budget every checked mixture fits is {format_budget(largest)} (--budget {largest}), or raise those domains' max_epochs"
        )
