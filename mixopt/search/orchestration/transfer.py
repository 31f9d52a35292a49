"""The transfer check's refusals (``mixopt transfer OUT --budget 500k``): the study's answer
and the uniform and natural baselines at another budget, on fresh seeds, refused in one
line before anything runs when it cannot run. The runs themselves are the study loop's
(:class:`~mixopt.search.orchestration.loop.StudyLoop` with a budget), judged by
:func:`mixopt.study.answer.transfer_at`.
"""

from __future__ import annotations

from mixopt.errors import ConfigError, InfeasibleMixtureError
from mixopt.search.orchestration.prepared import PreparedStudy
from mixopt.setting import is_int

__all__ = ["answer_failed", "check_transfer"]


def check_transfer(study: PreparedStudy, budget: int, seeds: int) -> None:
    """Refuse, in one line and before anything runs, a transfer check that cannot run: a
    study that has not finished, the study's own budget, or a budget at which the study's
    answer or a baseline passes a repetition cap (naming the largest budget that fits)."""
    from mixopt.budget import format_budget
    from mixopt.data.allocation import largest_budget, normalize_mixture
    from mixopt.study.trials import BUILTIN_BASELINES

    store, search = study.store, study.spec.search
    own = search.confirm_budget or search.budget  # where the answer was chosen
    if not is_int(seeds) or seeds < 1:
        raise ConfigError("--seeds must be a positive integer")
    # the study's own trials: those reused from earlier studies (--warm-start) are not its to run
    own_done = [t for t in store.finished().values() if not t.reused]
    pending = len(study.baselines) + study.spec.search.trials - len(own_done)
    if not store.path(store.BEST).is_file() or pending > 0:
        why = f"{pending} trials still to run" if pending > 0 else f"no {store.BEST}"
        raise ConfigError(
            f"{store.folder}: the study has not finished ({why}); finish it with mixopt search --resume {store.folder}"
        )
    if budget == own:
        raise ConfigError(
            f"--budget {format_budget(budget)} is the budget the study chose its answer at; race on more seeds with mixopt search --resume {store.folder} --confirm {seeds}"
        )
    if problems := study.plan.problems(study.pools, budget):
        raise ConfigError(problems)  # e.g. a left-out domain's pass would not fit the budget
    trials = store.trials()
    best = store.decision().summary.best_number
    mixtures = {
        t.baseline or "best": t.mixture
        for t in trials
        if t.number == best or t.baseline in BUILTIN_BASELINES
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


def answer_failed(study: PreparedStudy, budget: int) -> str:
    """The line a transfer check ends in when every run of the study's answer at ``budget``
    failed: the answer, its runs' first error, where the runs are kept, and what to do (a
    failed run is kept as out of the check, not redone, at that budget)."""
    from mixopt.budget import format_budget
    from mixopt.study.summary import runs_at

    store = study.store
    answer = store.decision().summary.best_number
    named: dict[int | None, str] = {t.number: t.baseline for t in store.trials() if t.baseline}
    who = named.get(answer) or f"trial {answer}"
    errors = [c.error for c in runs_at(store.confirmations(), budget) if c.source == answer]
    why = f" ({errors[0]})" if errors and errors[0] else ""
    return (
        f"every run of the study's answer ({who}) at budget {format_budget(budget)} failed{why}; "
        f"every run is kept ({store.path(store.CONFIRM)}, {store.path(store.EVENTS)}) and a failed "
        f"one is not redone: fix the cause, then check another budget with "
        f"mixopt transfer {store.folder} --budget TOKENS"
    )
