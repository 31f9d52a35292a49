"""MLflow tracking: one parent run per study, one nested child run per trial.

Only the driver writes (never a trial process), so concurrent trials cannot corrupt the
store. Optuna's storage is the source of truth; :meth:`Tracker.reconcile` brings MLflow in
line with it after a crash (a trial Optuna finished but MLflow did not hear of, a run left
RUNNING by a killed driver).

A tracking server that fails mid-study never stops it (:class:`GuardedTracker`): the trials
go on into Optuna's storage, the study says once what it could not log, and the next
``--resume`` logs it (reconcile, then the study's close).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.search.tracking._base import Tracker
from mixopt.study.trials import origin_text

if TYPE_CHECKING:
    from mixopt.study.trials import TrialRecord

__all__ = ["GuardedTracker", "MlflowTracker", "NullTracker", "trial_params"]

EXPERIMENT = "mixopt"
FRONT_TABLE = "pareto_front.json"


def _server(uri: str) -> bool:
    """Whether ``uri`` names a tracking server (which stores the artifacts), not a store this
    process writes itself (a database, a folder)."""
    return uri.split("://", 1)[0].lower() in ("http", "https") or uri.startswith("databricks")


class NullTracker:
    """Records nothing (``--tracking-uri none``): the study folder still holds everything."""

    def __init__(self, uri: str = "none", artifact_root: Path | None = None) -> None:
        self.uri = uri

    def start_study(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str], parent_id: str | None
    ) -> str | None:
        return None

    def start_trial(self, number: int, role: str, params: Mapping[str, Any]) -> None:
        return None

    def log_intermediate(self, number: int, step: int, value: float) -> None:
        return None

    def finish_trial(
        self, number: int, state: str, result: Mapping[str, Any] | None, error: str | None = None
    ) -> None:
        return None

    def note_retry(self, number: int, retries: int) -> None:
        return None

    def fail_study(self, reason: str) -> None:
        return None

    def tag_best(
        self,
        number: int,
        mixture: Mapping[str, float],
        scores: Mapping[str, float | None],
        verdict: str = "",
        words: Mapping[str, str] | None = None,
    ) -> None:
        return None

    def finish_study(self, metrics: Mapping[str, float], artifacts: list[Path]) -> None:
        return None

    def log_front(self, rows: list[dict[str, Any]]) -> None:
        return None

    def reconcile(self, finished: Mapping[int, TrialRecord]) -> None:
        return None


class GuardedTracker:
    """``inner``, whose first failure (a server down, a network gone) calls ``on_down(error)``
    once and turns every later call into nothing: a study never waits on or dies of its
    tracking, and Optuna's storage, written first, already holds every trial."""

    def __init__(self, inner: Tracker, on_down: Callable[[str], None]) -> None:
        self.inner, self.on_down = inner, on_down
        self.down: str | None = None
        """Why tracking stopped, or None while it works."""

    def _call(self, method: str, *args: Any) -> Any:
        if self.down is not None:
            return None
        try:
            return getattr(self.inner, method)(*args)
        except Exception as exc:  # whatever the client raises for a server that is gone
            from mixopt.errors import first_line

            self.down = f"{type(exc).__name__}: {first_line(exc)}"
            self.on_down(self.down)
            return None

    def start_study(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str], parent_id: str | None
    ) -> str | None:
        started = self._call("start_study", name, params, tags, parent_id)
        return parent_id if started is None else str(started)

    def start_trial(self, number: int, role: str, params: Mapping[str, Any]) -> None:
        self._call("start_trial", number, role, params)

    def log_intermediate(self, number: int, step: int, value: float) -> None:
        self._call("log_intermediate", number, step, value)

    def finish_trial(
        self, number: int, state: str, result: Mapping[str, Any] | None, error: str | None = None
    ) -> None:
        self._call("finish_trial", number, state, result, error)

    def note_retry(self, number: int, retries: int) -> None:
        self._call("note_retry", number, retries)

    def fail_study(self, reason: str) -> None:
        self._call("fail_study", reason)

    def tag_best(
        self,
        number: int,
        mixture: Mapping[str, float],
        scores: Mapping[str, float | None],
        verdict: str = "",
        words: Mapping[str, str] | None = None,
    ) -> None:
        self._call("tag_best", number, mixture, scores, verdict, words)

    def finish_study(self, metrics: Mapping[str, float], artifacts: list[Path]) -> None:
        self._call("finish_study", metrics, artifacts)

    def log_front(self, rows: list[dict[str, Any]]) -> None:
        self._call("log_front", rows)

    def reconcile(self, finished: Mapping[int, TrialRecord]) -> None:
        self._call("reconcile", finished)


class MlflowTracker:
    """MLflow at --tracking-uri (without one, SQLite in the study folder): a parent run per
    study, a child run per trial.

    Construct with the URI; nothing connects until first use."""

    def __init__(self, uri: str, artifact_root: Path) -> None:
        self.uri, self.artifact_root = uri, artifact_root
        self._client: Any = None
        self.parent_id: str | None = None
        self.experiment_id: str | None = None
        self._runs: dict[int, str] = {}  # Optuna trial number -> run id

    @property
    def client(self) -> Any:
        if self._client is None:
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            # with a tracking server, MLflow prints two URL lines a run to stdout (the results')
            os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
            import logging

            from mlflow.tracking import MlflowClient

            logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its table-creation chatter

            path = (
                self.uri.removeprefix("sqlite:///") if self.uri.startswith("sqlite:///") else None
            )
            if path is not None:
                from mixopt.search.tracking.template import seed_store

                seed_store(path)  # a new store without MLflow's migrations
            self._client = MlflowClient(self.uri)
            if path is not None:
                _journal_ahead(path, self._client)
        return self._client

    def start_study(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str], parent_id: str | None
    ) -> str:
        """Create (or, resuming, reopen) the parent run; return its id."""
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        if exp is not None:
            self.experiment_id = exp.experiment_id
        elif _server(self.uri):
            # the server keeps the artifacts where it says (its --artifacts-destination,
            # proxied, a folder per run): the experiment is every study's on that server, and
            # an artifact root in this study's folder would take in every later study's files
            self.experiment_id = self.client.create_experiment(EXPERIMENT)
        else:
            self.experiment_id = self.client.create_experiment(
                EXPERIMENT, artifact_location=self.artifact_root.resolve().as_uri()
            )
        if parent_id is not None:
            self.parent_id = parent_id
            self.client.update_run(parent_id, status="RUNNING")
            for run in self._children():
                self._runs[int(run.data.tags["mixopt.trial_number"])] = run.info.run_id
            return parent_id
        run = self.client.create_run(
            self.experiment_id, run_name=name, tags={"mixopt.kind": "study", **tags}
        )
        self.parent_id = run.info.run_id
        self._log_params(self.parent_id, params)
        return self.parent_id

    def _children(self) -> list[Any]:
        return list(
            self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{self.parent_id}'",
                max_results=50_000,
            )
        )

    def start_trial(self, number: int, role: str, params: Mapping[str, Any]) -> None:
        """A child run for Optuna trial ``number`` (a re-run of a re-queued trial replaces the
        killed run's place: the old one is marked KILLED)."""
        old = self._runs.get(number)
        if old is not None:
            self.client.set_terminated(old, status="KILLED")
            self.client.set_tag(old, "mixopt.state", "REQUEUED")
        run = self.client.create_run(
            self.experiment_id,
            run_name=_run_name(number, role, params),
            tags={
                "mlflow.parentRunId": self.parent_id,
                "mixopt.trial_number": str(number),
                "mixopt.role": role,
                "mixopt.state": "RUNNING",
                **({"mixopt.budget": str(params["budget"])} if "budget" in params else {}),
            },
        )
        self._runs[number] = run.info.run_id
        self._log_params(run.info.run_id, params)

    def log_intermediate(self, number: int, step: int, value: float) -> None:
        if number in self._runs:
            self.client.log_metric(self._runs[number], "intermediate", value, step=step)

    def finish_trial(
        self, number: int, state: str, result: Mapping[str, Any] | None, error: str | None = None
    ) -> None:
        """Log a finished trial's figures and close its run. ``state``: COMPLETE, PRUNED or FAIL."""
        from mlflow.entities import Metric

        run_id = self._runs.get(number)
        if run_id is None:
            return
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in _flat_metrics(result or {}).items()]
        metrics += [
            Metric("train_loss", float(v), now, int(s))
            for s, v in (result or {}).get("loss_curve", [])
        ]
        for i in range(0, len(metrics), 900):  # MLflow takes at most 1000 metrics per batch
            self.client.log_batch(run_id, metrics=metrics[i : i + 900])
        self.client.set_tag(run_id, "mixopt.state", state)
        if error:
            self.client.set_tag(run_id, "mixopt.fail_reason", error[:5000])
        self.client.set_terminated(run_id, status="FAILED" if state == "FAIL" else "FINISHED")

    def note_retry(self, number: int, retries: int) -> None:
        """The trial's worker died; the trial runs again in the same run."""
        if number in self._runs:
            self.client.set_tag(self._runs[number], "mixopt.retries", str(retries))

    def fail_study(self, reason: str) -> None:
        """Close the parent run as FAILED, with why (its finished children stay as they are)."""
        self.client.set_tag(self.parent_id, "mixopt.fail_reason", reason[:5000])
        self.client.set_terminated(self.parent_id, status="FAILED")

    def tag_best(
        self,
        number: int,
        mixture: Mapping[str, float],
        scores: Mapping[str, float | None],
        verdict: str = "",
        words: Mapping[str, str] | None = None,
    ) -> None:
        """Tag the answer's run, and put the answer on the parent run, so the runs table shows
        it at a glance: tags (``mixopt.best_trial``, ``mixopt.verdict`` the sentence,
        ``mixopt.verdict.<baseline>`` each word, and a description the run page shows), and
        ``best.share.<domain>`` metrics that compare across studies."""
        from mlflow.entities import Metric, RunTag

        for n, run_id in self._runs.items():
            self.client.set_tag(run_id, "mixopt.best", "true" if n == number else "false")
        best_run = self._runs.get(number)
        name = self.client.get_run(best_run).info.run_name if best_run else f"trial-{number:03d}"
        tags = [
            RunTag("mixopt.best_trial", name),
            RunTag("mlflow.note.content", _best_note(name, mixture, scores, verdict)),
            *(RunTag(f"mixopt.verdict.{b}", w) for b, w in (words or {}).items()),
        ]
        if verdict:
            tags.append(RunTag("mixopt.verdict", verdict[:5000]))
        if best_run:
            tags.append(RunTag("mixopt.best_run_id", best_run))
        now = int(time.time() * 1000)
        metrics = [Metric(f"best.share.{k}", float(v), now, 0) for k, v in mixture.items()]
        self.client.log_batch(self.parent_id, metrics=metrics, tags=tags)

    def finish_study(self, metrics: Mapping[str, float], artifacts: list[Path]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(
            self.parent_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
        )
        for path in artifacts:
            if path.is_dir():  # a folder (the report) keeps its name and layout
                self.client.log_artifacts(self.parent_id, str(path), path.name)
            elif path.exists():
                self.client.log_artifact(self.parent_id, str(path))
        self.client.set_terminated(self.parent_id, status="FINISHED")

    def log_front(self, rows: list[dict[str, Any]]) -> None:
        """The Pareto front of a study with several objectives, as a table on the parent run
        (``pareto_front.json``, which the MLflow UI shows as a table). Written as
        ``MlflowClient.log_table`` writes one (pandas' "split" JSON, and the run's tag that
        lists its tables), without its appending: a study that grows replaces its front."""
        import json
        import tempfile

        from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS

        columns = list(dict.fromkeys(k for row in rows for k in row))
        table = {"columns": columns, "data": [[row.get(c) for c in columns] for row in rows]}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / FRONT_TABLE
            path.write_text(json.dumps(table), encoding="utf-8")
            self.client.log_artifact(self.parent_id, str(path))
        listed = json.loads(
            self.client.get_run(self.parent_id).data.tags.get(MLFLOW_LOGGED_ARTIFACTS, "[]")
        )
        entry = {"path": FRONT_TABLE, "type": "table"}
        if entry not in listed:
            self.client.set_tag(
                self.parent_id, MLFLOW_LOGGED_ARTIFACTS, json.dumps([*listed, entry])
            )

    def reconcile(self, finished: Mapping[int, TrialRecord]) -> None:
        """After a crash: every trial Optuna finished gets a finished run (created if missing);
        every other run still RUNNING is marked KILLED."""
        runs = {
            int(r.data.tags["mixopt.trial_number"]): r
            for r in self._children()
            if "mixopt.trial_number" in r.data.tags
        }
        for number, run in runs.items():
            if run.info.status == "RUNNING" and number not in finished:
                self.client.set_terminated(run.info.run_id, status="KILLED")
                self.client.set_tag(run.info.run_id, "mixopt.state", "INTERRUPTED")
        for number, t in finished.items():
            run = runs.get(number)
            if run is not None and run.info.status != "RUNNING":
                continue
            result = t.result or {"role": t.role, "score": None, "metrics": {}}
            if run is None:
                self.start_trial(number, t.role, result.get("params", {}))
                # an earlier study's trial (--warm-start): say where it came from
                if t.origin is not None:
                    self.client.set_tag(
                        self._runs[number], "mixopt.warm_from", origin_text(t.origin)
                    )
            else:
                self._runs[number] = run.info.run_id
            self.finish_trial(number, t.state, result, t.error)

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 90):  # at most 100 params per batch
            self.client.log_batch(run_id, params=items[i : i + 90])


def _journal_ahead(path: str, client: Any) -> None:
    """The MLflow SQLite store in :func:`~mixopt.study.store.wal_journal`'s mode: WAL is kept
    in the file (set here before MLflow opens it); NORMAL syncing is per connection, set on
    MLflow's engine where this MLflow version shows it (else each commit syncs the log)."""
    import sqlite3
    from contextlib import closing

    from mixopt.study.store import journal_ahead, wal_journal

    with closing(sqlite3.connect(path)) as connection:
        wal_journal(connection)
    engine = getattr(
        getattr(getattr(client, "_tracking_client", None), "store", None), "engine", None
    )
    if engine is not None:
        journal_ahead(engine)


def _run_name(number: int, role: str, params: Mapping[str, Any]) -> str:
    """``trial-007`` (Optuna's trial number, so runs sort in study order),
    ``trial-000-baseline-uniform``, ``confirm-trial-007-seed1``, ``confirm-uniform-seed1``."""
    if role.startswith("confirm:"):
        return f"confirm-{role.split(':', 1)[1]}-seed{params.get('seed', number)}"
    return (
        f"trial-{number:03d}"
        if role == "search"
        else f"trial-{number:03d}-{role.replace(':', '-')}"
    )


def _best_note(
    name: str, mixture: Mapping[str, float], scores: Mapping[str, float | None], verdict: str = ""
) -> str:
    """The parent run's description (Markdown): the verdict, the answer's trial, its mixture
    and scores."""
    rows = "\n".join(
        f"| {d} | {v:.4f} |" for d, v in sorted(mixture.items(), key=lambda kv: -kv[1])
    )
    figures = ", ".join(
        f"{k} {v:+.4f}" if k.startswith("lift") else f"{k} {v:.4f}"
        for k, v in scores.items()
        if v is not None
    )
    said = f"{verdict}\n\n" if verdict else ""
    return f"{said}**Best trial: {name}** ({figures})\n\n| domain | share |\n|---|---|\n{rows}\n"


def _flat_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    if result.get("score") is not None:
        out["score"] = result["score"]
    out.update({k: v for k, v in result.get("metrics", {}).items()})
    for name, d in result.get("domains", {}).items():
        out[f"tokens.{name}"] = d["tokens"]
        out[f"epochs.{name}"] = d["epochs"]
    out.update({f"time.{k}": v for k, v in result.get("timings", {}).items()})
    if result.get("tokens_per_second"):
        out["tokens_per_second"] = result["tokens_per_second"]
    return {k: float(v) for k, v in out.items() if isinstance(v, int | float)}


def trial_params(
    mixture: Mapping[str, float],
    train: Mapping[str, Any],
    seed: int,
    budget: int,
    filters: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A trial's parameters as MLflow shows them (``filter.<scorer>.<bound>``; MLflow keys
    allow no ``:``, which a ``module:attr`` scorer has)."""
    params: dict[str, Any] = {f"share.{k}": round(v, 6) for k, v in mixture.items()}
    params.update({f"train.{k}": v for k, v in train.items()})
    params.update(
        {f"filter.{k.replace(':', '_')}": round(v, 6) for k, v in (filters or {}).items()}
    )
    params.update(seed=seed, budget=budget)
    return params
