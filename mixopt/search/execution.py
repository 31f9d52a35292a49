"""Running trials on Ray Tune: starting (or joining) Ray, resources per trial, one Tuner run."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mixopt.search.config import SearchConfig

__all__ = ["fit", "start_ray", "trial_resources"]


def start_ray(config: SearchConfig) -> bool:
    """Start a local Ray (or join ``ray_address``); True when this call started it."""
    os.environ.setdefault(
        "RAY_AUTH_MODE", "disabled"
    )  # a local run needs no token (Ray 2.60 writes one to ~/.ray)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # results without the intermediate score (an error report, a final result) are expected
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not config.ray_address:
        # a local Ray listens on the loopback address only (Ray's single-machine mode; without
        # it every Ray server listens on all interfaces). Read when Ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return False
    # workers import what the driver can: user evaluators given as module:attr included
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p)),
                                "MLFLOW_DISABLE_TELEMETRY": "true", "TOKENIZERS_PARALLELISM": "false",
                                "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}}  # fmt: skip
    if config.ray_address:
        ray.init(
            address=config.ray_address,
            runtime_env=runtime_env,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    else:
        # a short temp dir: Ray's socket paths must stay under the OS limit of ~107 characters
        ray.init(include_dashboard=False, _temp_dir=tempfile.mkdtemp(prefix="mxr", dir="/tmp"), runtime_env=runtime_env,
                 log_to_driver=False, logging_level=logging.ERROR)  # fmt: skip
    return True


def trial_resources(config: SearchConfig) -> tuple[dict[str, float], int]:
    import ray

    available = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus, cpus = int(available.get("GPU", 0)), int(available.get("CPU", 1))
    if gpus and config.train.device != "cpu":
        return {"cpu": 1, "gpu": 1}, config.concurrency or gpus
    return {"cpu": config.cpus_per_trial}, config.concurrency or max(
        1, cpus // config.cpus_per_trial
    )


def fit(
    trainable: Any, searcher: Any, scheduler: Any, concurrency: int, out: Path, name: str
) -> None:
    from ray import tune

    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    max_concurrent_trials=concurrency, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(out / "ray"), name=f"{name}-{time.strftime('%Y%m%d-%H%M%S')}",
                                  verbose=0, failure_config=tune.FailureConfig(max_failures=0)),
    )  # fmt: skip
    tuner.fit()
