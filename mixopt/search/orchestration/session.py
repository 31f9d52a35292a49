"""An open study: its folder, Optuna study, tracker and simplex, from the first write to the
results. The loop runs the trials between :meth:`Session.open` and :meth:`Session.finish`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixopt.io import without_password
from mixopt.search.orchestration.faults import StudyFailedError
from mixopt.search.orchestration.prepared import PreparedStudy
from mixopt.search.orchestration.results import SearchResult
from mixopt.search.proposals.space import Simplex
from mixopt.search.tracking import make_tracker
from mixopt.search.tracking.tracker import GuardedTracker
from mixopt.study.answer import Decision, decide, headline, transfers
from mixopt.study.pareto import pareto_payload
from mixopt.study.record import StudyRecord
from mixopt.study.store import StudyStore, count_states, fold_wal
from mixopt.study.summary import Summary, runs_at
from mixopt.study.trials import TrialRecord
from mixopt.study.warm import apply_warm_start

__all__ = ["Finisher", "Session", "package_versions"]

Finisher = Callable[[Path], "Path | None"]
"""Called with the study folder once the results are written (e.g. to write the report);
returns a file or folder to log with the study's MLflow parent run, or None."""


@dataclass
class Session:
    study: PreparedStudy
    store: StudyStore
    tracker: GuardedTracker
    simplex: Simplex
    record: StudyRecord

    @property
    def budget(self) -> int:
        assert self.study.spec.search.budget is not None
        return self.study.spec.search.budget

    @property
    def estimate(self) -> str | None:
        """What the trials' score estimates where it is not the user's target (leave-one-out:
        left-out training domains), said with every lift; None: the evaluator's own score."""
        from mixopt.plans import estimate_of

        return estimate_of(self.study.plan)

    @property
    def race_budget(self) -> int:
        """The budget the race that chooses the answer runs at: ``--confirm-budget``, else
        the search's."""
        return self.study.spec.search.confirm_budget or self.budget

    @classmethod
    def open(cls, study: PreparedStudy) -> Session:
        """Build what can fail (sampler, simplex, tracker), then create (or reopen) the study's
        folder, storage and parent run, and queue what must run. A new study that fails
        before its record is written removes what it created, so the next command finds the
        folder as it was."""
        from mixopt.search.proposals.samplers import parameterization_for

        store, spec = study.store, study.spec
        kind = parameterization_for(spec.search.sampler, study.space.parameterization)
        simplex = Simplex(study.trial.domains, study.trial.budget, kind)
        uri = store.tracking_uri(spec.output.tracking_uri)
        tracker = GuardedTracker(
            make_tracker(uri, store.path(store.ARTIFACTS)),
            lambda error: _tracking_down(study, uri, error),
        )
        if study.resume:
            store.lock()  # before the first write; a new study's is taken once its folder is made
            record = study.record.replace(parent_run_id=store.read_record().parent_run_id)
            _open_storage(study)
        else:
            record = _create(study, study.record)
        # from here on the folder is a resumable study
        # a baseline keeps the most data its space allows: its filters at their loosest, so the
        # lift over it is what the searched shares and thresholds gain together
        loosest = {
            f"filter.{t.key}": t.loosest for t in study.space.filters.thresholds if t.searched
        }
        store.enqueue_baselines(study.baselines, lambda mix: {**simplex.params_for(mix), **loosest})
        # after the baselines: they run first
        for note in apply_warm_start(study.warm, store.optuna(), simplex, study.space):
            study.events.emit("warm_start", note, text=note)
        store.requeue_interrupted()
        if study.resume:
            store.requeue_failed()
        params = {
            **{k: v for k, v in spec.items() if v is not None and k != "domains"},
            "space": study.space.name,
            "domains": ",".join(d.name for d in study.trial.domains),
            "mixopt_version": record.mixopt_version,
        }
        parent = tracker.start_study(
            store.folder.name,  # what --out named it
            params,
            {"mixopt.out": str(store.folder)},
            record.parent_run_id,
        )
        record = record.replace(parent_run_id=parent)
        store.write_record(record)
        tracker.reconcile(_to_track(store))
        return cls(study, store, tracker, simplex, record)

    def simplex_for(self, filters: Mapping[str, float]) -> Simplex:
        """The simplex on the pool ``filters`` leave (caps and feasibility on what is kept)."""
        if not filters:
            return self.simplex
        from mixopt.data.filtering import filter_domains

        trial = self.study.trial
        domains = filter_domains(trial.domains, trial.scores, filters)
        return Simplex(domains, self.simplex.budget, self.simplex.kind)

    def decision(self) -> Decision:
        """The answer as the race decides it from the runs present, at the race's budget and
        with this run's settings (``--confirm`` may grow on resume)."""
        search, store = self.study.spec.search, self.store
        return decide(
            store.trials(),
            runs_at(store.confirmations(), self.race_budget),
            search.confirm,
            search.seed + 1,
            search.pick,
        )

    def fail(self, reason: str) -> None:
        """The study stopped: write what it holds, close its parent run as FAILED, raise."""
        self.store.write_results(self.store.trials())
        self.tracker.fail_study(reason)
        raise StudyFailedError(f"{reason}; fix it and run again with --resume {self.store.folder}")

    def finish(self, finishers: Sequence[Finisher] = ()) -> SearchResult:
        """Write the results, tag the answer's run, run the finishers, close the parent run."""
        store, trials = self.store, self.store.trials()
        decision = self.decision()
        summary = decision.summary
        if summary.best is None or summary.best_number is None:
            failed = [t for t in trials if t.state == "FAIL"]
            reason = f"no trial completed; nothing to report{f' (first failure: {failed[0].error})' if failed else ''}"
            store.write_results(trials)
            self.tracker.fail_study(reason)
            raise StudyFailedError(reason)
        uri = store.tracking_uri(self.study.spec.output.tracking_uri)
        paths = {
            "best_mixture": str(store.path(store.BEST)),
            "results": str(store.path(store.RESULTS)),
            "study_storage": without_password(store.storage_url),
            "tracking_uri": without_password(uri),
            "out": str(store.folder),
        }
        pick, objectives = self.study.spec.search.pick, self.study.objectives
        front = pareto_payload(trials, pick, summary.best_number) if len(objectives) > 1 else None
        if front is not None:
            paths["pareto"] = str(store.path(store.PARETO))
        result = SearchResult(
            summary.best,
            summary.baselines,
            summary.lift,
            trials,
            store.folder,
            paths,
            f"mlflow ui --backend-store-uri {without_password(uri)}",
            summary.objective_lift,
            tuple(p["number"] for p in front["front"]) if front else (),
            headline(summary, self.estimate),
            summary.best_number,
            self.estimate,
        )
        store.write(store.BEST, self._answer(decision, result))
        lifts = {n: v.to_dict() for n, v in summary.lift.items()}
        answer = {
            "best_trial": summary.best_number,
            "verdict": result.verdict,
            "lifts": lifts,
            "estimate": self.estimate,
        }
        store.write_results(trials, answer)
        artifacts = [store.path(store.BEST), store.path(store.RESULTS)]
        if front is not None:
            store.write(store.PARETO, front)
            artifacts.append(store.path(store.PARETO))
            self.tracker.log_front(front_rows(front))
        self._tag_best(summary)
        for finish in finishers:  # after the results: a finisher that fails loses nothing
            extra = finish(store.folder)
            if extra is not None:
                artifacts.append(extra)
                paths[extra.name] = str(extra / "index.html" if extra.is_dir() else extra)
        self._finish_tracking(summary, artifacts)
        if self.tracker.down is None:  # MLflow holds the whole study (again)
            store.path(store.TRACKING_BEHIND).unlink(missing_ok=True)
        for name in (store.DB, store.TRACKING):  # a finished study's files stand alone
            fold_wal(store.path(name))
        self.study.events.emit(
            "study_finished",
            None,
            out=str(store.folder),
            counts=count_states(trials),
            lift=result.lift,
            verdict=result.verdict,
            lifts={n: v.to_dict() for n, v in summary.lift.items()},
            best={
                "trial": summary.best_number,
                "mixture": summary.best.mixture,
                "score": summary.best.score,
                "search_score": summary.best.search_score,
            },
        )
        return result

    def _tag_best(self, summary: Summary) -> None:
        """Tag the best trial's run in MLflow with its mixture, score and lifts."""
        assert summary.best is not None and summary.best_number is not None
        each = {
            f"{o} lift over {n}": v.value
            for n, by in summary.objective_lift.items()
            for o, v in by.items()
        }
        self.tracker.tag_best(
            summary.best_number,
            summary.best.mixture,
            {
                "score": summary.best.score,
                **{f"lift over {n}": v.value for n, v in summary.lift.items()},
                **{f"{o} score": v for o, v in summary.best.scores.items()},
                **each,
            },
            headline(summary, self.estimate),
            {n: v.verdict or "" for n, v in summary.lift.items()},
        )

    def _finish_tracking(self, summary: Summary, artifacts: list[Path]) -> None:
        """Close the parent run with the best score, the lifts (per objective too) and the
        study's files."""
        assert summary.best is not None
        per_objective = {f"best_score.{o}": v for o, v in summary.best.scores.items()}
        per_objective.update(
            {
                f"lift_over_{n}.{o}": v.value
                for n, by in summary.objective_lift.items()
                for o, v in by.items()
            }
        )
        self.tracker.finish_study(
            {
                "best_score": summary.best.score or 0.0,
                # the name every run logs its score under: one column shows and sorts them all
                "score": summary.best.score or 0.0,
                **{f"lift_over_{n}": v.value for n, v in summary.lift.items()},
                # the interval's ends, where there is one (two fresh seeds or more)
                **{
                    f"lift_over_{n}.low": v.low
                    for n, v in summary.lift.items()
                    if v.low is not None
                },
                **{
                    f"lift_over_{n}.high": v.high
                    for n, v in summary.lift.items()
                    if v.high is not None
                },
                **per_objective,
            },
            artifacts,
        )

    def _objectives(self, summary: Summary) -> dict[str, Any]:
        """``best_mixture.json``'s entries of a study with several objectives: which, the pick
        rule, each objective's score (picked and baselines) and the lift on each over each
        baseline (confirmed means where there are runs)."""
        objectives = self.study.objectives
        if len(objectives) < 2 or summary.best is None:
            return {}
        by = summary.objective_lift
        return {
            "objectives": list(objectives),
            "pick": self.study.spec.search.pick,
            "pareto": self.store.PARETO,
            "scores": summary.best.scores,
            "search_scores": summary.best.search_scores,
            "baseline_scores": {n: c.scores for n, c in summary.baselines.items()},
            "objective_lift": {n: {o: v.value for o, v in each.items()} for n, each in by.items()},
            "objective_lift_std": {
                n: {o: v.spread for o, v in each.items()} for n, each in by.items()
            },
        }

    def _noise(self) -> dict[str, Any] | None:
        """``best_mixture.json``'s ``seed_noise``: the baselines' seed noise and what it means
        (None without a fresh seed to measure it on)."""
        from mixopt.study.noise import baseline_noise, noise_summary

        search, store = self.study.spec.search, self.store
        runs = runs_at(store.confirmations(), self.budget)
        noise = baseline_noise(store.trials(), runs, search.seed + 1)
        if noise is None:
            return None
        return noise_summary(noise, search.confirm, search.trials, len(self.study.baselines))

    def _answer(self, decision: Decision, result: SearchResult) -> dict[str, Any]:
        """``best_mixture.json``: the answer, its verdict over each baseline, the race that
        chose it, and what it takes to reproduce it."""
        from mixopt._version import __version__

        summary = decision.summary
        assert summary.best is not None
        best, spec, record = summary.best, self.study.spec, self.record
        answer = next(t for t in result.trials if t.number == summary.best_number)
        return {
            "best_mixture": best.mixture,
            "verdict": result.verdict,
            "score": best.score,
            "score_std": best.spread,
            "search_score": best.search_score,
            "confirmed_scores": list(best.confirmed),
            "lift": result.lift,
            "lifts": {n: v.to_dict() for n, v in summary.lift.items()},
            "lift_std": {n: v.spread for n, v in summary.lift.items()},
            "baselines": {
                n: {
                    "mixture": c.mixture,
                    "score": c.score,
                    "score_std": c.spread,
                    "search_score": c.search_score,
                    "confirmed_scores": list(c.confirmed),
                }
                for n, c in summary.baselines.items()
            },
            # the knobs the answer's fresh-seed runs trained with (the search's best trial's)
            "train": decision.knobs or answer.train,
            # thresholds on per-record scores (mixopt.data.filtering); reproduce with filters: {key: value}
            "filters": answer.filters,
            "confirmed_with": "the top mixtures and the baselines raced on shared fresh seeds, at the search's best trial's training settings"
            if best.confirmed
            else None,
            "race": _race_entry(decision),
            "seed_noise": self._noise(),
            "best_trial": summary.best_number,
            "answer_is": decision.answer_is_baseline or f"trial {summary.best_number}",
            # null: every score and lift is the evaluator's, on the user's target
            "estimate": self.estimate,
            "mixopt_version": __version__,
            "versions": package_versions(),
            "seed": spec.search.seed,
            "budget": spec.search.budget,
            "model": spec.model.name,
            "tokenizer": record.tokenizer,
            "spec": record.spec,
            "space": record.space,
            "domains": {
                d.name: {
                    "tokens": d.num_tokens,
                    "records": d.num_records,
                    "max_epochs": d.spec.max_epochs,
                }
                for d in self.study.trial.domains
            },
            "target_budget": spec.search.target_budget,
            # the budget the answer was chosen at (the race's), when not the search's
            "confirm_budget": spec.search.confirm_budget,
            **self._objectives(summary),
            "transfer": {
                str(b): t.to_dict()
                for b, t in transfers(
                    result.trials,
                    self.store.confirmations(),
                    self.race_budget,
                    decision,
                    self.estimate,
                ).items()
            },
        }


def _race_entry(decision: Decision) -> dict[str, Any] | None:
    """``best_mixture.json``'s ``race``: who raced, on which seeds, who left and why."""
    race, state = decision.race, decision.state
    if race is None or state is None or not race.seed_budget:
        return None
    return {
        "entrants": [race.name(n) for n in race.order],
        "trials": list(race.order),
        "seed_budget": race.seed_budget,
        "seeds": list(state.seeds),
        "dropped": [
            {"trial": d.number, "after_seeds": d.seeds, "reason": d.reason} for d in state.dropped
        ],
        "means": {race.name(n): m for n, m in state.means.items()},
        "family": race.family(),
        "over": state.over,
    }


def front_rows(front: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``pareto.json``'s front as table rows: trial, role, each objective, picked, shares."""
    return [
        {
            "trial": p["number"],
            "role": p["role"],
            **p["scores"],
            "picked": p["number"] == front["picked"],
            **{f"share.{d}": round(v, 4) for d, v in p["mixture"].items()},
        }
        for p in front["front"]
    ]


def _sampler(study: PreparedStudy, held: int) -> Any:
    """The study's sampler. A resumed one gets a seed drawn from the study's and the ``held``
    trials: seeded as at the start, it would propose the points it proposed then again."""
    import numpy as np

    from mixopt.search.proposals.samplers import make_sampler

    search = study.spec.search
    seed = (
        int(np.random.SeedSequence([search.seed, held]).generate_state(1)[0])
        if held
        else search.seed
    )
    return make_sampler(search.sampler, seed, search.startup_trials)


def _to_track(store: StudyStore) -> dict[int, TrialRecord]:
    """What MLflow must hold, by run number: every trial that ended, and every confirmation
    run, failed ones included (by the number it ran under; a run recorded before numbers
    were kept, from CONFIRM_BASE in ``confirm.jsonl``'s order)."""
    from mixopt.search.tracking.tracker import trial_params
    from mixopt.study.summary import CONFIRM_BASE

    out = store.finished()
    for i, c in enumerate(store.confirmations()):
        number = CONFIRM_BASE + i if c.number is None else c.number
        mixture = out[c.source].mixture if c.source in out else {}
        # each at the budget it trained on (a transfer check's runs: their own)
        params = {**trial_params(mixture, c.train, c.seed, c.budget), "source_trial": c.source}
        role = f"confirm:{c.name}"
        score = None if c.failed else c.score
        out[number] = TrialRecord(
            number,
            role,
            "FAIL" if c.failed else "COMPLETE",
            mixture,
            c.train,
            score,
            result={}
            if c.failed
            else {"role": role, "score": score, "metrics": {}, "params": params},
            error=c.error,
        )
    return out


def _tracking_down(study: PreparedStudy, uri: str, error: str) -> None:
    """MLflow failed: the study goes on; its folder and a warning say so, and how to catch up."""
    store, where = study.store, without_password(uri)
    store.write(
        store.TRACKING_BEHIND, {"tracking_uri": where, "error": error, "since": time.time()}
    )
    study.events.warn(
        f"MLflow at {where} failed ({error}); the study goes on without it and keeps every trial in "
        f"{store.folder}; once MLflow is back, `mixopt search --resume {store.folder}` logs what it missed",
        tracking_uri=where,
        error=error,
    )


def _open_storage(study: PreparedStudy) -> None:
    """Reopen a resumed study's folder and Optuna study; its record is rewritten later, with
    the settings this run may have changed."""
    store = study.store
    sampler = _sampler(study, len(store.optuna().get_trials(deepcopy=False)))
    study.events.add_file(store.path(store.EVENTS))  # appended to: a resumed study adds its own
    store.remove_torn()
    store.optuna(sampler)


def _create(study: PreparedStudy, record: StudyRecord) -> StudyRecord:
    """Create a new study's folder, storage and record, and return the record as written;
    on any failure remove what was created here (the folder, if it was made here; else the
    files made in it)."""
    import shutil

    store = study.store
    sampler = _sampler(study, 0)  # before the first write: an unknown sampler writes nothing
    top = store.folder
    while not top.parent.exists():
        top = top.parent
    made = None if top.exists() else top  # the outermost folder made here, if any
    before = set() if made else set(store.folder.iterdir())
    store.folder.mkdir(parents=True, exist_ok=True)
    # a driver started beside this one on the same --out is refused here, its folder left alone
    store.lock()
    try:
        store.optuna(sampler, create=True, objectives=study.objectives)
        if study.spec.data.domains is None or not isinstance(study.spec.data.domains, str):
            # domains given as objects: keep a copy, so the study can resume from its folder
            store.write(store.DOMAINS, [d.spec.to_entry() for d in study.trial.domains])
            data = {**record.spec["data"], "domains": str(store.path(store.DOMAINS))}
            record = record.replace(spec={**record.spec, "data": data})
        store.write_record(record)
    except BaseException:
        store.unlock()
        if made:
            shutil.rmtree(made, ignore_errors=True)
        else:
            for path in set(store.folder.iterdir()) - before:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise
    study.events.add_file(store.path(store.EVENTS))  # with the events so far
    return record


def package_versions() -> dict[str, str]:
    """Versions of the libraries that shape a trial's result, for reproducing it."""
    from importlib import metadata

    out = {}
    for name in (
        "torch",
        "transformers",
        "peft",
        "optuna",
        "ray",
        "mlflow",
        "datasets",
        "tokenizers",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
