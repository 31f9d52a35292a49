"""The study store: the one owner of a study folder's names and of its Optuna study.

Everything a study writes goes through here (atomically: a killed process leaves no torn
file), and everything that reads a study (the report, resume, ``mixopt ls``, confirmation)
reads through here. Opening a store connects to nothing; the Optuna study is opened on
first use.

Folder layout::

    study.json          what the study is (its spec), its Optuna study's name, where its parent
                        MLflow run is; never a password (see :func:`mixopt.io.without_password`)
    study.db            Optuna storage (unless the spec names another URL)
    mlflow.db           MLflow tracking store (unless the spec names a tracking URI)
    mlartifacts/        MLflow artifacts
    tracking-behind.json  while MLflow misses some of the study (its server failed mid-study):
                        where and why; the next ``--resume`` logs what it missed and removes it
    confirm.jsonl       one line per confirmation run, appended as each finishes
    events.jsonl        the event log
    results.json        every trial; best_mixture.json: the answer; report/: the report
    pareto.json         with several objectives: the Pareto front and the trial picked from it
    ray/                Ray Tune's own records (tracebacks of failed trials)
    driver.lock         while a driver runs the study: its host and process id
                        (:mod:`mixopt.study.lock`)
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.errors import ConfigError, first_line
from mixopt.io import read_json, without_password, write_json_atomic
from mixopt.study.answer import Decision, decide
from mixopt.study.record import StudyRecord
from mixopt.study.summary import Confirmation, Summary, runs_at
from mixopt.study.trials import Attr, TrialRecord, baseline_role, is_live, is_reused, record_of

if TYPE_CHECKING:
    from mixopt.study.spec import StudySpec

__all__ = ["StudyStore"]

STUDY_NAME = "mixopt"  # the Optuna study's name inside the folder's own SQLite storage


class StudyStore:
    """A study folder. ``storage``: the Optuna storage URL when it is not the folder's SQLite."""

    STUDY = "study.json"
    DB = "study.db"
    TRACKING = "mlflow.db"
    ARTIFACTS = "mlartifacts"
    CONFIRM = "confirm.jsonl"
    TRACKING_BEHIND = "tracking-behind.json"
    EVENTS = "events.jsonl"
    RESULTS = "results.json"
    BEST = "best_mixture.json"
    PARETO = "pareto.json"
    REPORT = "report"
    RAY = "ray"
    DOMAINS = "domains.json"
    """A copy of domains given as Python objects, so the study can resume from its folder."""
    LOCK = "driver.lock"

    def __init__(self, folder: str | Path, storage: str | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.storage = storage
        self._optuna: Any = None
        self._name: str | None = None
        self._lock: Any = None

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{self.path(self.DB)}"

    @property
    def study_name(self) -> str:
        """The Optuna study's name: ``mixopt`` in the folder's own SQLite; in a storage other
        studies may share (one PostgreSQL database for a team), the folder's name and a random
        suffix, chosen when the study is created and kept in ``study.json``."""
        if self._name is None:
            if self.storage is None:
                self._name = STUDY_NAME
            elif self.exists():
                self._name = self.read_record().study_name or STUDY_NAME
            else:
                self._name = f"{self.folder.name}-{secrets.token_hex(4)}"
        return self._name

    def tracking_uri(self, uri: str | None) -> str:
        """The given URI, or SQLite in the folder (never MLflow's default ./mlflow.db)."""
        return uri or f"sqlite:///{self.path(self.TRACKING)}"

    # -- the driver's lock ----------------------------------------------------------------

    def lock(self) -> None:
        """Hold the study for this driver (the folder's lock, and the database's where the
        storage is PostgreSQL) until :meth:`unlock`; another live driver's is refused in
        one line naming it (:mod:`mixopt.study.lock`)."""
        from mixopt.study.lock import DriverLock

        if self._lock is None:
            lock = DriverLock(self.path(self.LOCK), self.storage, self.study_name)
            lock.acquire()
            self._lock = lock

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def held_by_another(self) -> str | None:
        """The one-line refusal when a live driver holds the folder's lock, else None."""
        from mixopt.study.lock import holder_problem

        return holder_problem(self.path(self.LOCK))

    # -- the study record -------------------------------------------------------------

    def exists(self) -> bool:
        return self.path(self.STUDY).is_file()

    def read_record(self) -> StudyRecord:
        """``study.json``; a folder that holds no study is a one-line :class:`ConfigError`."""
        if not self.exists():
            raise ConfigError(f"{self.folder}: not a mixopt study folder (no {self.STUDY})")
        path = self.path(self.STUDY)
        return StudyRecord.from_dict(read_json(path, "study record"), str(path))

    def read_spec(self) -> StudySpec:
        """The spec ``study.json`` holds (without the storage's password)."""
        return self.read_record().study_spec(str(self.path(self.STUDY)))

    def write_record(self, record: StudyRecord) -> None:
        named = record.replace(study_name=self.study_name)
        write_json_atomic(self.path(self.STUDY), named.to_dict())

    def write(self, name: str, payload: Any) -> None:
        """Write one of the folder's JSON files atomically."""
        write_json_atomic(self.path(name), payload)

    def remove_torn(self) -> None:
        """Drop writes a killed process left unfinished (never renamed into place)."""
        for torn in self.folder.glob(".*.tmp"):
            torn.unlink()

    # -- the Optuna study -------------------------------------------------------------

    def optuna(
        self, sampler: Any = None, create: bool = False, objectives: Sequence[str] = ()
    ) -> Any:
        """The Optuna study (created when ``create``); with a sampler, opened anew with it.
        ``objectives``: a new study's objectives, each maximized, kept as Optuna's metric
        names (none: one score, the study's single direction)."""
        if self._optuna is not None and sampler is None:
            return self._optuna
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # Optuna's RDB storage trips a SQLAlchemy deprecation of its own; nothing a user can act on
        warnings.filterwarnings("ignore", message="The ``noload`` loader strategy is deprecated")
        url = self.storage_url
        if url.startswith("sqlite") and not create and not self.path(self.DB).is_file():
            # opening a missing SQLite file would create an empty one
            raise ConfigError(f"{self.folder}: the study's storage {self.path(self.DB)} is missing")
        if url.startswith("sqlite") and not create:
            sqlite_problem(self.path(self.DB), self.folder)  # before Optuna writes its schema in
        try:
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {},
            )
            if url.startswith("sqlite"):
                journal_ahead(storage.engine)
            if create:
                directions: list[Any] = ["maximize"] * max(1, len(objectives))
                study = optuna.create_study(
                    storage=storage,
                    study_name=self.study_name,
                    directions=directions,
                    sampler=sampler,
                    load_if_exists=True,
                )
                if objectives and not study.metric_names:
                    with warnings.catch_warnings():  # experimental since Optuna 3.2, still in 5.0
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        study.set_metric_names(list(objectives))
            else:
                study = optuna.load_study(
                    study_name=self.study_name, storage=storage, sampler=sampler
                )
        except Exception as exc:  # a missing study, an unreachable database
            raise ConfigError(
                f"{self.folder}: cannot open the study {self.study_name} in {without_password(url)} ({first_line(exc)})"
            ) from None
        self._optuna = study
        return study

    def objectives(self) -> tuple[str, ...]:
        """The objectives the study was created with (empty: one score)."""
        return tuple(self.optuna().metric_names or ())

    def frozen(self, states: Iterable[str] | None = None) -> list[Any]:
        """The Optuna trials that count (not a killed driver's interrupted ones)."""
        from optuna.trial import TrialState

        wanted = None if states is None else tuple(TrialState[s] for s in states)
        every = self.optuna().get_trials(deepcopy=False)
        replaced = {t.user_attrs.get(Attr.RERUN_OF) for t in every}
        return [
            t
            for t in every
            if (wanted is None or t.state in wanted) and is_live(t) and t.number not in replaced
        ]

    def trials(self) -> tuple[TrialRecord, ...]:
        return tuple(record_of(t) for t in self.frozen())

    def finished(self) -> dict[int, TrialRecord]:
        """Trials that ended (complete, pruned or failed), by number."""
        return {t.number: record_of(t) for t in self.frozen(("COMPLETE", "PRUNED", "FAIL"))}

    def enqueue_baselines(
        self, baselines: Sequence[tuple[str, Mapping[str, float]]], params: Any
    ) -> None:
        """Queue each baseline the study does not hold yet, in any state (idempotent, so a
        study killed between its first write and this still gets them). ``params``: the
        sampler's parameters for a mixture."""
        study = self.optuna()
        held = {t.user_attrs.get(Attr.ROLE) for t in study.get_trials(deepcopy=False)}
        for name, mix in baselines:
            if baseline_role(name) not in held:
                attrs = {Attr.ROLE: baseline_role(name), Attr.MIXTURE: dict(mix)}
                study.enqueue_trial(params(mix), user_attrs=attrs)

    def requeue_interrupted(self) -> int:
        """Trials left RUNNING by a killed driver: marked failed (interrupted) and queued
        again with the same parameters. Returns how many."""
        from optuna.trial import TrialState

        study = self.optuna()
        left = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for t in left:
            study._storage.set_trial_user_attr(t._trial_id, Attr.INTERRUPTED, True)
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            _enqueue_again(study, t)
        return len(left)

    def requeue_failed(self) -> int:
        """When every trial that ended failed (a broken setup, which a resumed run may have
        fixed), queue each again with its parameters; the failed ones stop counting. Returns
        how many."""
        failed = [t for t in self.frozen(("COMPLETE", "PRUNED", "FAIL")) if not is_reused(t)]
        if not failed or any(t.state.name != "FAIL" for t in failed):
            return 0
        study = self.optuna()
        for t in failed:
            _enqueue_again(study, t, {Attr.RERUN_OF: t.number})
        return len(failed)

    # -- confirmation runs ------------------------------------------------------------

    def confirmations(self) -> list[Confirmation]:
        """The runs in ``confirm.jsonl``, failed ones included (``failed``; a torn last line,
        from a killed process, is skipped; a run recorded again, a failed one retried on
        resume say, counts as its last record)."""
        path = self.path(self.CONFIRM)
        out: dict[tuple[str, int, int, int], Confirmation] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    c = _confirmation(json.loads(line))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
                out.pop((c.name, c.seed, c.source, c.budget), None)
                out[(c.name, c.seed, c.source, c.budget)] = c
        return list(out.values())

    def add_confirmation(self, run: Confirmation) -> None:
        """Append one run, flushed to disk before this returns (a failed run's score as
        null: JSON has no NaN)."""
        row = asdict(run)
        if run.failed:
            row["score"] = None
        with open(self.path(self.CONFIRM), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def decision(self) -> Decision:
        """The study's answer at its own budget (runs of a transfer check are left out), as
        the study decided it (:func:`mixopt.study.answer.decide`)."""
        search = (self.read_record().spec.get("search") or {}) if self.exists() else {}
        own = search.get("confirm_budget") or search.get("budget")  # the race's budget
        confirmations = self.confirmations()
        # a folder without study.json has no budget to tell the study's runs by: all of them
        here = confirmations if own is None else runs_at(confirmations, own)
        if "confirm" in search:
            seeds, first = int(search["confirm"]), int(search.get("seed") or 0) + 1
        else:  # no settings to read: the race the runs present make
            present = sorted({c.seed for c in here}) or [1]
            seeds, first = present[-1] - present[0] + 1 if here else 0, present[0]
        return decide(self.trials(), here, seeds, first, search.get("pick") or "balanced")

    def summary(self) -> Summary:
        """At the study's budget (runs of a transfer check are left out)."""
        return self.decision().summary

    def write_results(
        self, trials: Sequence[TrialRecord], answer: Mapping[str, Any] | None = None
    ) -> None:
        """``results.json``: the counts, every trial, and (once the study has one) the
        answer: its trial, the sentence and each lift with its interval and verdict."""
        counts = count_states(trials)
        out: dict[str, Any] = {"counts": counts, "trials": [t.to_dict() for t in trials]}
        if answer is not None:
            out["answer"] = dict(answer)
        self.write(self.RESULTS, out)


def _confirmation(row: dict[str, Any]) -> Confirmation:
    failed = row.get("error") is not None
    return Confirmation(
        row["name"],
        int(row["seed"]),
        int(row["source"]),
        float("nan") if failed else float(row["score"]),
        dict(row["train"]),
        int(row["budget"]),
        {str(k): float(v) for k, v in row["scores"].items()},
        row.get("error"),
        None if row.get("number") is None else int(row["number"]),
    )


def count_states(trials: Sequence[TrialRecord]) -> dict[str, int]:
    """Trials in all and by state (``complete``, ``pruned``, ``fail``...), and ``reused``: how
    many of them were earlier studies' results (``--warm-start``), when any were."""
    out = {"trials": len(trials)}
    for t in trials:
        out[t.state.lower()] = out.get(t.state.lower(), 0) + 1
    reused = sum(t.reused for t in trials)
    return {**out, "reused": reused} if reused else out


def sqlite_problem(path: Path, folder: Path) -> None:
    """Refuse, in one line, a study's SQLite file that is damaged (truncated, overwritten) or
    holds no Optuna study, having only read it: opened by Optuna, a truncated file was given
    an empty schema and random bytes a misleading message."""
    import sqlite3

    why = None
    try:
        # read-only: nothing, not even a journal, is written to a file refused here
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=60)) as db:
            check = db.execute("PRAGMA quick_check").fetchall()
            if [tuple(r) for r in check] != [("ok",)]:
                why = f"its integrity check failed: {check[0][0]}"
            elif not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'studies'"
            ).fetchone():
                why = "it holds no Optuna study (empty or cut short)"
    except sqlite3.Error as exc:
        why = first_line(exc, type(exc).__name__)
    if why is not None:
        raise ConfigError(
            f"{folder}: the study's storage {path} is damaged ({why}); it was left as it is: "
            "restore it from a copy, or start a new study with another --out"
        )


def wal_journal(connection: Any, _record: Any = None) -> None:
    """Put a SQLite database in write-ahead-log mode, synced at checkpoints, not at each
    commit. A trial costs the driver some 30 commits (Optuna's ask, parameters, attributes,
    tell; MLflow's run): in the default rollback journal each commit syncs the disk several
    times (12 ms here, so about 3 trials/s at most, whatever the cluster), in WAL mode with
    NORMAL syncing 0.02 ms (benchmarks/driver_scale.py). A killed process loses no commit
    (the log is replayed when the database next opens); a power cut may lose the last ones,
    which a resumed study runs again. WAL needs its readers on the same machine (not a
    network file system): a study whose folder is shared that way uses ``--storage``
    PostgreSQL. ``connection``: a DB-API connection (also a SQLAlchemy connect listener)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file: every later connection uses it
    cursor.execute("PRAGMA synchronous=NORMAL")  # per connection
    cursor.close()


def fold_wal(path: Path) -> None:
    """Fold a SQLite database's write-ahead log into the file itself (an idle reader does not
    stop it), so that the file alone holds every commit: a copy of ``study.db`` or
    ``mlflow.db`` made without its ``-wal`` file, or read elsewhere, misses nothing."""
    import sqlite3

    if path.exists():
        with closing(sqlite3.connect(path, timeout=30)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def journal_ahead(engine: Any) -> None:
    """Every connection of SQLAlchemy's ``engine`` in :func:`wal_journal`'s mode."""
    from sqlalchemy import event

    event.listen(engine, "connect", wal_journal)
    engine.dispose()  # connections opened before (creating the tables) reconnect in this mode


def _enqueue_again(study: Any, trial: Any, extra: Mapping[str, Any] | None = None) -> None:
    """Queue ``trial`` to run again: its parameters, its role, mixture and origin, and ``extra``."""
    attrs = {
        k: v for k, v in trial.user_attrs.items() if k in (Attr.ROLE, Attr.MIXTURE, Attr.WARM_FROM)
    }
    study.enqueue_trial(trial.params, user_attrs={**attrs, **(extra or {})}, skip_if_exists=False)
