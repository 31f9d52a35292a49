"""Reading and repairing what a study holds: the Optuna study (interrupted trials, finished
trials, the best one) and its confirmation runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mixopt.search.results import TrialRecord

__all__ = [
    "any_worked",
    "best_trial",
    "enqueue_baselines",
    "finished_trials",
    "read_confirmations",
    "records",
    "requeue_interrupted",
]


def requeue_interrupted(ostudy: Any) -> None:
    """Trials left RUNNING by a killed driver: marked failed (interrupted) and queued again."""
    from optuna.trial import TrialState

    for t in ostudy.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        ostudy._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        ostudy.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        attrs = {k: v for k, v in t.user_attrs.items() if k in ("role", "mixture")}
        ostudy.enqueue_trial(t.params, user_attrs=attrs, skip_if_exists=False)


def finished_trials(ostudy: Any) -> dict[int, tuple[str, Any, str | None]]:
    from optuna.trial import TrialState

    out = {}
    for t in ostudy.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    ):
        if t.user_attrs.get("interrupted"):
            continue
        result = t.user_attrs.get("result") or {
            "role": t.user_attrs.get("role", "search"),
            "score": None,
            "metrics": {},
        }
        out[t.number] = (t.state.name, result, _reason(t))
    return out


def _reason(t: Any) -> str | None:
    """Why a trial failed (``error`` in studies written before ``fail_reason``)."""
    reason = t.user_attrs.get("fail_reason", t.user_attrs.get("error"))
    return None if reason is None else str(reason)


def any_worked(ostudy: Any) -> bool:
    """Whether a trial of the study completed or was pruned (it ran to a score)."""
    from optuna.trial import TrialState

    return bool(ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def best_trial(ostudy: Any) -> int | None:
    from optuna.trial import TrialState

    done = ostudy.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: (t.value, -t.number)).number if done else None


def records(ostudy: Any) -> tuple[TrialRecord, ...]:
    out = []
    for t in ostudy.get_trials(deepcopy=False):
        if t.user_attrs.get("interrupted"):
            continue
        result = t.user_attrs.get("result") or {}
        score = (
            t.value
            if t.state.name == "COMPLETE"
            else (
                list(t.intermediate_values.values())[-1]
                if t.state.name == "PRUNED" and t.intermediate_values
                else None
            )
        )
        out.append(TrialRecord(t.number, t.user_attrs.get("role", "search"), t.state.name, dict(t.user_attrs.get("mixture", {})),
                               dict(t.user_attrs.get("train", {})), score, dict(result.get("metrics", {})), _reason(t)))  # fmt: skip
    return tuple(out)


def enqueue_baselines(
    ostudy: Any, baselines: Sequence[tuple[str, Mapping[str, float]]], simplex: Any
) -> None:
    """Queue each baseline that the study does not hold yet (in any state)."""
    held = {t.user_attrs.get("role") for t in ostudy.get_trials(deepcopy=False)}
    for name, mix in baselines:
        if f"baseline:{name}" not in held:
            ostudy.enqueue_trial(
                simplex.params_for(mix),
                user_attrs={"role": f"baseline:{name}", "mixture": dict(mix)},
            )


def read_confirmations(path: Path) -> dict[tuple[str, int, int], float]:
    """(candidate name, seed, source trial) -> score, from ``confirm.jsonl`` (a torn last line,
    from a killed process, is ignored)."""
    out: dict[tuple[str, int, int], float] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            out[(row["name"], int(row["seed"]), int(row["source"]))] = float(row["score"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return out
