"""Confirmation runs: the best mixture and the baselines again, on fresh seeds.

The best of many noisy trials is biased upward (it won partly by luck); re-running it and
the baselines on seeds no trial used gives scores that can be compared fairly. Each run is
appended to ``confirm.jsonl`` as it finishes, so a resumed study redoes only what is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from mixopt.search.searcher import trial_params
from mixopt.search.tracking import Tracker

__all__ = ["ConfirmSearcher", "read_confirmations"]


def read_confirmations(path: Path) -> dict[tuple[str, int, int], float]:
    """(candidate name, seed, source trial) -> score, from ``confirm.jsonl`` (a torn last line,
    from a killed process, is ignored)."""
    out: dict[tuple[str, int, int], float] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[(row["name"], int(row["seed"]), int(row["source"]))] = float(row["score"])
    return out


class ConfirmSearcher(Searcher):
    """Hands Tune a fixed list of runs; records each result as it arrives."""

    def __init__(
        self,
        jobs: list[dict[str, Any]],
        path: Path,
        tracker: Tracker,
        first_number: int,
        budget: int,
        quiet: bool,
    ) -> None:
        super().__init__(metric="score", mode="max")
        self.jobs, self.path, self.tracker, self.budget, self.quiet = (
            list(jobs),
            path,
            tracker,
            budget,
            quiet,
        )
        self.next_number = first_number
        self.live: dict[str, tuple[int, dict[str, Any]]] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if not self.jobs:
            return Searcher.FINISHED if not self.live else None  # type: ignore[return-value]  # Tune's "done" marker is a str
        job = self.jobs.pop(0)
        number, self.next_number = self.next_number, self.next_number + 1
        self.live[trial_id] = (number, job)
        self.tracker.start_trial(
            number,
            f"confirm:{job['name']}",
            {
                **trial_params(job["mixture"], job["train"], job["seed"], self.budget),
                "source_trial": job["source"],
            },
        )
        return {
            "number": number,
            "mixture": job["mixture"],
            "train": job["train"],
            "seed": job["seed"],
        }

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.last[trial_id] = result

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        number, job = self.live.pop(trial_id)
        last = result or self.last.pop(trial_id, {})
        if error or last.get("score") is None:
            reason = str(last.get("error") or "the trial's worker failed")
            self.tracker.finish_trial(number, "FAIL", None, reason)
            if not self.quiet:
                print(
                    f"confirmation run of {job['name']} (seed {job['seed']}) FAILED: {reason}",
                    flush=True,
                )
            return
        payload = json.loads(last["result_json"])
        with open(self.path, "a", encoding="utf-8") as fh:  # one line per run, flushed to disk
            fh.write(
                json.dumps(
                    {
                        "name": job["name"],
                        "seed": job["seed"],
                        "source": job["source"],
                        "score": payload["score"],
                    }
                )
                + "\n"
            )
            fh.flush()
            os.fsync(fh.fileno())
        self.tracker.finish_trial(number, "COMPLETE", payload)
        if not self.quiet:
            print(
                f"confirmed {job['name']} (seed {job['seed']}): score {payload['score']:.4f}",
                flush=True,
            )

    def save_to_dir(self, *args: Any, **kwargs: Any) -> None:
        return None

    def restore_from_dir(self, *args: Any, **kwargs: Any) -> None:
        return None
