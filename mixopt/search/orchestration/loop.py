"""The study loop: what to run next, whether a running trial goes on, what each outcome
means. It is the :class:`~mixopt.search.executors.JobSource` every executor pulls from.

Searched trials come from an Optuna ask/tell loop on persistent storage (the baselines are
enqueued trials, so they run first); when every searched trial has ended, the top few
distinct mixtures and the baselines race on fresh seeds (confirmation runs,
:mod:`mixopt.study.race`), in rounds of jobs of the same loop, and the race's best mean is
the answer. Optuna's storage is the only state: a resumed study reopens it.

Why not Ray Tune's ``OptunaSearch``: with a define-by-run space it ignores
``points_to_evaluate`` (the baselines), fixes Optuna's pruner to none, and restoring a
``Tuner`` has lost its searcher state in some Ray versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mixopt.budget import format_budget
from mixopt.search.executors._base import FINISHED, WORKER_DIED, Job, Outcome
from mixopt.search.orchestration.faults import fail_limit
from mixopt.search.orchestration.progress import Progress
from mixopt.search.orchestration.pruning import Asha
from mixopt.search.tracking.tracker import trial_params
from mixopt.study.answer import Decision, headline, transfer_race
from mixopt.study.race import Race, RaceState, race_scores
from mixopt.study.summary import CONFIRM_BASE, Confirmation, runs_at
from mixopt.study.trials import (
    BUILTIN_BASELINES,
    SEARCH,
    Attr,
    TrialRecord,
    baseline_role,
    origin_text,
    write_proposal,
)

if TYPE_CHECKING:
    from mixopt.search.orchestration.session import Session

__all__ = ["StudyLoop"]

# the baselines whose seed noise is measured before the search
NOISE_ROLES = tuple(baseline_role(n) for n in BUILTIN_BASELINES)


class StudyLoop:
    """Hands out the study's jobs and records how each ended. Lives in the driver only."""

    def __init__(
        self, session: Session, slots: int, budget: int | None = None, seeds: int | None = None
    ) -> None:
        """``budget``, ``seeds``: a transfer check, the confirmation runs on ``seeds`` fresh
        seeds at another budget (of a finished study: nothing else is left to run)."""
        spec = session.study.spec
        self.session, self.spec = session, spec
        self.budget = budget or session.budget
        # a transfer check's budget, else --confirm-budget, else the search's
        self.race_budget = budget or session.race_budget
        self.transfer = budget is not None
        self.seeds = spec.search.confirm if seeds is None else seeds
        self.store, self.tracker, self.events = session.store, session.tracker, session.study.events
        self.total = len(session.study.baselines) + spec.search.trials
        # trials a resumed study already ran; those reused from earlier studies (--warm-start) are not this study's
        finished = {n: t for n, t in self.store.finished().items() if not t.reused}
        self.done = len(finished)
        self.progress = Progress(
            self.total,
            self.done,
            slots,
            self.events,
            session.study.intermediate,
        )
        self.progress.carry(finished.values())
        self.asha = self._pruning(finished.values())
        self.live: dict[int, Job] = {}
        self.asked: dict[int, Any] = {}  # trial number -> its Optuna trial
        self.reports: dict[int, list[float]] = {}
        self.suite = session.study.evaluator
        # Optuna takes no intermediate scores (trial.report) in a study with several objectives:
        # they are kept as a user attribute there, and the early stopping (ours) reads them
        self.multi = len(session.study.objectives) > 1
        self.steps: dict[int, list[list[float]]] = {}
        self.retry: list[Job] = []
        worked = any(t.state in ("COMPLETE", "PRUNED") for t in finished.values())
        self.limit = None if worked else fail_limit(slots)
        self.failed_in_a_row, self.first_failure = 0, ""
        self.stopped: str | None = None
        self.confirming: list[Job] | None = None  # None: still searching
        self.race_stale = True  # a run of the race ended since its jobs were last made
        self.next_confirm: int | None = None
        self.said: set[str] = set()  # the race's events already emitted (dropped, over)
        self.noise: list[Job] = []
        self._warn_if_random(len(session.study.baselines))
        from mixopt.search.proposals.samplers import attach_simplex

        # a sampler that proposes mixtures itself (the surrogate) maps them through the study's simplex
        attach_simplex(self.store.optuna().sampler, session.simplex, self.spec.search.sampler)

    def _warn_if_random(self, baselines: int) -> None:
        """Say when the sampler's random start-up phase covers every trial: its model, the
        reason to choose it, would never propose one (a warning: shown even when quiet)."""
        from mixopt.search.proposals.samplers import random_startup

        search = self.spec.search
        startup = random_startup(search.sampler, search.startup_trials)
        if not search.trials or self.total > startup:
            return
        text = (
            f"--trials {search.trials} is fewer than the {startup} random start-up trials of {search.sampler} "
            f"(the {baselines} baselines count among them): every trial is random; use --trials "
            f"{startup - baselines + 1} or more, or --startup-trials N"
        )
        self.events.warn(text)

    def _pruning(self, finished: Iterable[TrialRecord]) -> Asha | None:
        search, checkpoints = self.spec.search, self.spec.train.checkpoints
        early = search.early_stop == "on" or (search.early_stop == "auto" and search.trials >= 8)
        if not early:
            return None
        if self.session.study.intermediate is None:
            plan = self.session.study.plan
            self.events.say(
                "note: early stopping needs an 'intermediate' task in the evaluator; running every trial to the end"
                if plan.intermediate_scores
                else f"note: {plan.name} has no intermediate scores; running every trial to the end"
            )
            return None
        asha = Asha(checkpoints)
        asha.add_history([v for _, v in t.intermediate] for t in finished if t.role == SEARCH)
        return asha

    # -- JobSource --------------------------------------------------------------------

    def next_job(self) -> Job | str | None:
        if self.stopped is not None:
            return FINISHED if not self.live else None
        if self.retry:
            return self._start(self.retry.pop(0))
        if self.noise:  # the baselines on the first fresh seed: the seed noise, early
            return self._start(self.noise.pop(0))
        if self.confirming is None:
            searching = sum(j.source is None for j in self.live.values())
            while self.done + searching < self.total:
                job = self._ask()  # None: a proposal no data can fill, recorded as infeasible
                if job is not None:
                    return self._start(job)
            if self.live:
                return None
            self.confirming = []
        if not self.confirming and self.race_stale:
            self.confirming = self._confirmation_jobs()
        if self.confirming:
            return self._start(self.confirming.pop(0))
        return FINISHED if not self.live else None

    def reported(self, job: Job, step: int, total: int, value: float) -> bool:
        self.tracker.log_intermediate(job.number, step, value)
        self.progress("report", job, {"step": step, "total_steps": total, "value": value})
        curve = self.reports.setdefault(job.number, [])
        curve.append(value)
        if job.source is not None:  # a confirmation run: no Optuna trial of its own
            return True
        if self.multi:
            self.steps.setdefault(job.number, []).append([step, value])
            self.asked[job.number].set_user_attr(Attr.INTERMEDIATE, self.steps[job.number])
        else:
            self.asked[job.number].report(value, step)
        return job.protected or self.asha is None or self.asha.keep(len(curve), value)

    def finished(self, job: Job, outcome: Outcome) -> None:
        self.live.pop(job.number, None)
        if (
            outcome.state == "died"
            and job.retries < self.spec.execution.max_retries
            and self.stopped is None
        ):
            self._retry(job)
            return
        if outcome.state == "died":
            outcome = Outcome("fail", error=f"{WORKER_DIED} ({job.retries + 1} attempts)")
        if job.source is not None:
            self._confirmed(job, outcome)
        else:
            self.done += 1
            {"complete": self._complete, "stopped": self._pruned}.get(outcome.state, self._failed)(
                job, outcome
            )

    # -- searched trials and baselines ------------------------------------------------

    def _ask(self) -> Job | None:
        from mixopt.errors import InfeasibleMixtureError

        study = self.store.optuna()
        trial = study.ask()
        role = trial.user_attrs.get(Attr.ROLE, SEARCH)
        try:
            # the filters first: the shares are made feasible on the pool they leave
            filters = self.session.study.space.filters.suggest(trial)
            simplex = self.session.simplex_for(filters)
            # asked even for an enqueued trial (a baseline, a re-queued one): that records its
            # fixed parameters, so the sampler learns from it and optuna-dashboard plots it; the
            # mixture it trains stays the exact one it was queued with, where the filters let it
            proposed = simplex.suggest(trial)
            queued = trial.user_attrs.get(Attr.MIXTURE)
            mixture = dict(proposed if queued is None else simplex.feasible(queued))
        except InfeasibleMixtureError as exc:
            self._infeasible(trial, f"infeasible: the filters leave too little data ({exc})")
            return None
        train = self.session.study.space.suggest_train(trial)
        write_proposal(trial, role, mixture, train, filters)
        self.asked[trial.number] = trial
        return Job(
            trial.number,
            role,
            mixture,
            train,
            self.spec.search.seed,
            role != SEARCH,
            filters=filters,
        )

    def _infeasible(self, trial: Any, reason: str) -> None:
        """A proposal no mixture can fill: recorded as failed, with why, and never trained."""
        from optuna.trial import TrialState

        trial.set_user_attr(Attr.FAIL_REASON, reason)
        self.store.optuna().tell(trial, state=TrialState.FAIL)
        self.done += 1
        self.events.emit(
            "trial_infeasible", f"trial {trial.number}: {reason}", trial=trial.number, error=reason
        )

    def _start(self, job: Job) -> Job:
        self.live[job.number] = job
        self.reports.pop(job.number, None)
        self.steps.pop(job.number, None)
        if not job.retries:
            params = trial_params(
                job.mixture, job.train, job.seed, job.budget or self.budget, job.filters
            )
            origin = (
                self.asked[job.number].user_attrs.get(Attr.WARM_FROM)
                if job.number in self.asked
                else None
            )
            extra = (
                {"source_trial": job.source}
                if job.source is not None
                else {"warm_from": origin_text(origin)}
                if origin
                else {}
            )
            self.tracker.start_trial(job.number, job.role, {**params, **extra})
        if job.source is None:
            self.progress("start", job, None)
        return job

    def _retry(self, job: Job) -> None:
        job.retries += 1
        if job.number in self.asked:
            self.asked[job.number].set_user_attr(Attr.RETRIES, job.retries)
        self.tracker.note_retry(job.number, job.retries)
        self.retry.append(job)
        if job.source is None:
            self.progress("retry", job, {"error": WORKER_DIED})

    def _scores(self, outcome: Outcome) -> dict[str, float]:
        """Each objective's score (none without objectives). Raises EvaluationError."""
        return (
            self.suite.objective_scores(outcome.payload.get("metrics") or {})
            if self.suite is not None and self.suite.objectives
            else {}
        )

    def _complete(self, job: Job, outcome: Outcome) -> None:
        from mixopt.evaluators._base import EvaluationError

        payload = dict(outcome.payload)
        try:
            scores = self._scores(outcome)
        except EvaluationError as exc:
            self._failed(job, Outcome("fail", error=str(exc)))
            return
        payload.update(
            role=job.role,
            params=trial_params(job.mixture, job.train, job.seed, self.budget, job.filters),
        )
        if scores:
            payload["scores"] = scores
        trial = self.asked.pop(job.number)
        trial.set_user_attr(Attr.RESULT, payload)
        # Optuna first: the source of truth; several objectives: the vector, in the study's order
        self.store.optuna().tell(
            trial, list(scores.values()) if self.multi else float(payload["score"])
        )
        self.tracker.finish_trial(job.number, "COMPLETE", payload)
        self.progress("complete", job, payload)
        self.limit = None  # a trial worked: the setup is sound, failures are the trials'
        if job.role in NOISE_ROLES:
            self._measure_noise(job)

    def _pruned(self, job: Job, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        last = (self.reports.get(job.number) or [float("nan")])[-1]
        self.store.optuna().tell(self.asked.pop(job.number), state=TrialState.PRUNED)
        self.tracker.finish_trial(
            job.number, "PRUNED", {"score": None, "metrics": {"intermediate": last}}
        )
        self.progress("prune", job, {"intermediate": last})
        self.limit = None

    def _failed(self, job: Job, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        reason = outcome.error or "the trial failed"
        trial = self.asked.pop(job.number)
        trial.set_user_attr(Attr.FAIL_REASON, reason)
        self.store.optuna().tell(trial, state=TrialState.FAIL)
        self.tracker.finish_trial(job.number, "FAIL", None, reason)
        self.progress("fail", job, {"error": reason})
        self.failed_in_a_row += 1
        self.first_failure = self.first_failure or reason
        if self.limit is not None and self.failed_in_a_row >= self.limit and self.stopped is None:
            self.retry.clear()
            self.stopped = (
                f"the first {self.failed_in_a_row} trials all failed, so the study stopped "
                f"(first failure: {self.first_failure})"
            )

    # -- the seed noise, before the search ---------------------------------------------

    def _measure_noise(self, job: Job) -> None:
        """Queue the baseline that just finished on the race's first fresh seed (the race
        reuses the run), unless it has one; say the noise once both have theirs."""
        search = self.spec.search
        if not search.confirm or self.transfer or self.race_budget != self.session.budget:
            return  # a race at another budget would not reuse the runs
        fresh = search.seed + 1
        done = runs_at(self.store.confirmations(), self.budget)
        if not any(c.source == job.number and c.seed == fresh for c in done):
            name = job.role.split(":", 1)[1]
            self.noise.append(
                self._race_job_of(
                    job.number, name, dict(job.mixture), dict(job.train), fresh, job.filters
                )
            )
        self._say_noise()

    def _say_noise(self) -> None:
        """``seed noise sd ...: a lift smaller than about X is noise at this budget; N fresh
        seeds resolve a lift of about Y`` (once), from the two baselines' search trials and
        their runs on the first fresh seed."""
        from mixopt.study.noise import baseline_noise, noise_summary

        if "noise" in self.said:
            return
        search = self.spec.search
        runs = runs_at(self.store.confirmations(), self.budget)
        noise = baseline_noise(self.store.trials(), runs, search.seed + 1)
        if noise is None:
            return
        self.said.add("noise")
        said = noise_summary(
            noise, search.confirm, search.trials, len(self.session.study.baselines)
        )
        self.events.emit("seed_noise", said["sentence"], **said)

    # -- confirmation runs ------------------------------------------------------------

    def _confirmation_jobs(self) -> list[Job]:
        """The race's next runs (:mod:`mixopt.study.race`), given the runs it has: none while
        the ones running may still decide what comes next."""
        self.race_stale = False
        trials = self.store.trials()
        decision = self.session.decision()
        if decision.race is None:
            return []
        race = decision.race
        if self.transfer:  # a transfer check: the answer and the baselines, no race
            answer = decision.summary.best_number
            assert answer is not None
            race = transfer_race(trials, answer, self.seeds, race.first_seed)
            runs = runs_at(self.store.confirmations(), self.budget)
            used = [c for c in runs if c.train in ({}, decision.knobs) and c.seed in race.seeds]
            state = race.step(race_scores(used))
        else:
            assert decision.state is not None
            state = decision.state
        self._say_race(race, state, decision)
        busy = {(j.source, j.seed) for j in (*self.live.values(), *self.retry, *self.noise)}
        by_number = {t.number: t for t in trials}
        jobs = []
        for number, seed in state.needed:
            if (number, seed) not in busy:
                t = by_number[number]
                # runs named as the trials' own: confirm-uniform-seed4, confirm-trial-007-seed4
                name = t.baseline or f"trial-{number:03d}"
                jobs.append(self._race_job(t, name, seed, decision))
        return jobs

    def _race_job(self, t: TrialRecord, name: str, seed: int, decision: Decision) -> Job:
        """A run of ``t``'s mixture on the fresh ``seed`` (new data samples and LoRA
        initializations), at the race's knobs and its own filters."""
        # a race at --confirm-budget: the jobs carry it (a transfer check's executor has its own)
        at = None if self.transfer or self.race_budget == self.budget else self.race_budget
        return self._race_job_of(
            t.number, name, dict(t.mixture), dict(decision.knobs), seed, t.filters, at
        )

    def _race_job_of(
        self,
        source: int,
        name: str,
        mixture: dict[str, float],
        knobs: dict[str, Any],
        seed: int,
        filters: Mapping[str, float] | None,
        budget: int | None = None,
    ) -> Job:
        if self.next_confirm is None:  # past every number a run of this study has had
            done = self.store.confirmations()
            numbers = [c.number for c in done if c.number is not None]
            self.next_confirm = max([CONFIRM_BASE + len(done) - 1, *numbers]) + 1
        number, self.next_confirm = self.next_confirm, self.next_confirm + 1
        return Job(
            number,
            f"confirm:{name}",
            mixture,
            knobs,
            seed,
            True,
            source,
            filters=dict(filters or {}),
            budget=budget,
        )

    def _say_race(self, race: Race, state: RaceState, decision: Decision) -> None:
        """The race's start (its entrants and most cost), each entrant it drops and why,
        and its end (once each)."""
        where = (
            ""
            if self.race_budget == self.session.budget and not self.transfer
            else f" at budget {format_budget(self.race_budget)}"
        )
        if "start" not in self.said and state.needed:
            self.said.add("start")
            entrants = [race.name(n) for n in race.order]
            made = race.runs_made(
                race_scores(runs_at(self.store.confirmations(), self.race_budget))
            )
            what = (
                f"the study's answer and the baselines {' and '.join(race.name(n) for _, n in race.baselines)}"
                if not race.eliminate
                else f"{', '.join(entrants)} race"
            )
            drops = "; an entrant clearly behind the leader stops early" if race.eliminate else ""
            self.progress.race(race.most_runs() - made)
            self.events.emit(
                "confirm_started",
                f"confirming{where}: {what} on up to {race.seed_budget} fresh seed{'s' * (race.seed_budget != 1)} at the best trial's training settings "
                f"(at most {race.most_runs()} runs, {made} already made){drops}",
                runs=race.most_runs() - made,
                seeds=race.seed_budget,
                candidates=entrants,
                budget=self.race_budget,
            )
        for d in state.dropped:
            if f"drop {d.number}" not in self.said:
                self.said.add(f"drop {d.number}")
                self.events.emit(
                    "race_dropped",
                    f"{race.name(d.number)} leaves the race after {d.seeds} seeds: {d.reason}",
                    trial=d.number,
                    seeds=d.seeds,
                    reason=d.reason,
                )
        if state.over and not self.live and "over" not in self.said and state.seeds:
            self.said.add("over")
            text = (
                "every run made"
                if self.transfer
                else headline(decision.summary, self.session.estimate)
            )
            self.events.emit(
                "race_finished",
                f"the race is over{where}: {text}",
                trial=decision.summary.best_number,
            )

    def _confirmed(self, job: Job, outcome: Outcome) -> None:
        from mixopt.evaluators._base import EvaluationError

        self.race_stale = True
        name = job.role.split(":", 1)[1]
        assert job.source is not None
        budget = job.budget or self.budget
        ids = {"name": name, "seed": job.seed, "source": job.source, "budget": budget}
        try:
            scores = self._scores(outcome) if self.multi and outcome.state == "complete" else {}
        except EvaluationError as exc:
            outcome = Outcome("fail", error=str(exc))
        if outcome.state != "complete":
            reason = outcome.error or "stopped"
            # kept: the race reads a failed run as out of it, and a resume does not redo it
            self.store.add_confirmation(
                Confirmation(
                    name,
                    job.seed,
                    job.source,
                    float("nan"),
                    dict(job.train),
                    budget,
                    {},
                    reason,
                    job.number,
                )
            )
            self.tracker.finish_trial(job.number, "FAIL", None, reason)
            self.events.emit(
                "confirm_finished",
                self.progress.race_line(
                    f"confirmation run of {name} (seed {job.seed}) FAILED: {reason}", True
                ),
                **ids,
                state="FAIL",
                score=None,
                error=reason,
            )
            return
        score = float(outcome.payload["score"])
        self.store.add_confirmation(
            Confirmation(
                name,
                job.seed,
                job.source,
                score,
                dict(job.train),
                budget,
                scores,
                None,
                job.number,
            )
        )
        self.tracker.finish_trial(job.number, "COMPLETE", outcome.payload)
        self.events.emit(
            "confirm_finished",
            self.progress.race_line(f"confirmed {name} (seed {job.seed}): score {score:.4f}", True),
            **ids,
            state="COMPLETE",
            score=score,
        )
        if self.confirming is None:  # a run of the seed noise, made during the search
            self._say_noise()
