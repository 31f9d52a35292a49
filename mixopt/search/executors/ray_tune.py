"""The Ray Tune executor: jobs fan out as Tune trials over the CPUs or GPUs of a local Ray
(started here) or a cluster (``ray_address``, else Ray's own ``RAY_ADDRESS``), one job per
trial.

Tune asks a searcher for each trial's config and a scheduler what to do at each result;
here both hand over to the study's :class:`JobSource`, which owns every decision. Actors
are reused between trials (``reuse_actors``): a fresh trial process pays ~6 s of imports,
more than a short trial trains (docs/design.md, "Workers are reused"). The model is rebuilt
inside each trial, so nothing leaks from one to the next.

Nothing here imports Ray at module level: a local Ray reads its settings (listen on the
loopback address only) when it is first imported, which :func:`start_ray` arranges.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mixopt.search.executors._base import JobSource
from mixopt.search.executors.context import StudyContext
from mixopt.study.spec import ExecutionSpec

__all__ = ["RayTuneExecutor", "address_problems", "cluster_address", "start_ray", "stop_ray"]


def cluster_address(given: str | None) -> str | None:
    """The Ray cluster a study's trials join: ``given`` (``--ray-address``), else Ray's own
    ``RAY_ADDRESS`` (which ``ray job submit`` sets for its entrypoint, and users set in a
    cluster's shell); None: start a local Ray."""
    return given or os.environ.get("RAY_ADDRESS") or None


def address_problems(given: str | None) -> list[str]:
    """The cluster a study would join (:func:`cluster_address`) in one line where nothing
    answers at its HOST:PORT: Ray itself retries such an address for many minutes. ``auto``
    (the cluster this machine runs) is left to Ray."""
    import socket

    address = cluster_address(given)
    if address is None or address in ("auto", "local"):
        return []
    where = "--ray-address" if given else "RAY_ADDRESS"
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return [f"{where} {address!r} is not HOST:PORT, ray://HOST:PORT or auto"]
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return [
            f"{where} {address}: no Ray cluster answers there ({why}); start it (ray start --head) or fix the address"
        ]
    return []


def start_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Start a local Ray (or join ``address``); True when this call started or joined it (and
    :func:`stop_ray` is then this caller's to call: it stops a local Ray and removes its
    folder, and only disconnects from a cluster). ``num_cpus``: the CPUs a local Ray declares
    (default: the machine's), e.g. more than there are, for trials that wait rather than
    compute (benchmarks/driver_scale.py). A local Ray is started even where ``RAY_ADDRESS`` is
    set: callers that should honour it pass :func:`cluster_address`'s answer.

    A local Ray listens on the loopback address only. Ray reads that setting when it is first
    imported, so nothing may import Ray before this call; where something did (a notebook),
    the setting is applied to the imported module too."""
    # a local run needs no token (Ray 2.60 writes one to ~/.ray)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # results without the intermediate score (an error report, a final result) are expected
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Tune takes SIGINT for itself in Tuner.fit unless told not to, and then ends the run as if
    # it had finished; a study's driver stops as interrupted instead (orchestration.signals)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    if not address:
        _loopback_only()
    import ray

    if ray.is_initialized():
        return False
    # workers import what the driver can: user evaluators given as module:attr included
    runtime_env = {
        "env_vars": {
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p)),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        }
    }
    if address:
        ray.init(
            address=address,
            runtime_env=runtime_env,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
        return True
    # Ray makes its folder writable by everyone (0777, for machines shared between users):
    # it is kept inside a private one (0700), removed by stop_ray. Short: Ray's socket paths
    # must stay under the OS limit of ~107 characters.
    folder = tempfile.mkdtemp(prefix="mxr", dir="/tmp")
    try:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            _temp_dir=os.path.join(folder, "r"),
            runtime_env=runtime_env,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _LOCAL_FOLDERS.append(folder)
    return True


def stop_ray() -> None:
    """Stop the Ray :func:`start_ray` started (or leave the cluster it joined), and remove
    the folder of a local one."""
    import ray

    ray.shutdown()
    while _LOCAL_FOLDERS:
        shutil.rmtree(_LOCAL_FOLDERS.pop(), ignore_errors=True)


_LOCAL_FOLDERS: list[str] = []  # the folders of the local Rays started, until stopped


def _loopback_only() -> None:
    """Ray's single-machine mode, in which every server it starts listens on 127.0.0.1
    (without it each listens on all interfaces): read by Ray when it is imported, and by the
    processes it starts from their environment."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # imported already: what it read at import is out of date
        clusters = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"].lower() in ("1", "true")
        constants.ENABLE_RAY_CLUSTER = clusters  # type: ignore[attr-defined]


class RayTuneExecutor:
    """Ray Tune: trials in parallel over the CPUs or GPUs of a local Ray or a cluster joined
    (--ray-address); a trial whose worker died is run again.

    Construct, then :meth:`start` (Ray must start before anything imports it for the
    study), :meth:`run` one or more sources, :meth:`close`."""

    @staticmethod
    def problems(execution: ExecutionSpec) -> list[str]:
        """A cluster to join that does not answer (:func:`address_problems`)."""
        return address_problems(execution.ray_address)

    @staticmethod
    def remote(execution: ExecutionSpec) -> bool:
        """Whether the trials join a Ray cluster (``--ray-address`` or ``RAY_ADDRESS``)."""
        return cluster_address(execution.ray_address) is not None

    def __init__(
        self, context: StudyContext, execution: ExecutionSpec, device: str, folder: Path
    ) -> None:
        self.context, self.execution, self.device, self.folder = context, execution, device, folder
        self.started = False
        self.resources: dict[str, float] = {}
        self.concurrency = 1

    def start(self) -> None:
        # Ray started before it is imported here: a local one reads at import where to listen
        self.started = start_ray(cluster_address(self.execution.ray_address))
        import ray

        available = ray.cluster_resources()  # type: ignore[no-untyped-call]
        gpus, cpus = int(available.get("GPU", 0)), int(available.get("CPU", 1))
        if gpus and self.device != "cpu":
            self.resources, self.concurrency = (
                {"cpu": 1, "gpu": 1},
                self.execution.concurrency or gpus,
            )
        else:
            per = self.execution.cpus_per_trial
            self.resources = {"cpu": per}
            self.concurrency = self.execution.concurrency or max(1, cpus // per)

    def slots(self) -> int:
        return self.concurrency

    def run(self, source: JobSource) -> None:
        from ray import tune

        from mixopt.search.executors._tune import LoopScheduler, LoopSearcher, TrialActor

        searcher = LoopSearcher(source)
        tuner = tune.Tuner(
            tune.with_resources(
                tune.with_parameters(TrialActor, context=self.context), self.resources
            ),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=LoopScheduler(source, searcher),
                num_samples=-1,
                max_concurrent_trials=self.concurrency,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                storage_path=str(self.folder),
                name=f"study-{time.strftime('%Y%m%d-%H%M%S')}",
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
                # a class trainable is checkpointed at its end by default; a job has nothing to keep
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
            ),
        )
        tuner.fit()

    def close(self) -> None:
        if self.started:
            stop_ray()
            self.started = False
