"""The configuration of a study: everything needed to run, resume and reproduce it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mixopt.errors import ConfigError
from mixopt.search.samplers import DEFAULT_SAMPLER
from mixopt.training.config import TrainConfig

__all__ = ["EARLY_STOP", "SearchConfig"]

EARLY_STOP = ("auto", "on", "off")


@dataclass(frozen=True)
class SearchConfig:
    """How to search (the model, data and evaluator are given beside it)."""

    budget: int
    """Training tokens per trial."""
    trials: int = 16
    """Searched trials, besides the baselines; 0 scores only the baselines."""
    concurrency: int | None = None
    """Trials at once; None: one per GPU, else one per ``cpus_per_trial`` CPUs."""
    cpus_per_trial: int = 1
    """CPUs (and torch threads) per trial when there are no GPUs."""
    sampler: str = DEFAULT_SAMPLER
    """``gp`` (default), ``tpe``, ``cmaes``, ``qmc``, ``random``, or ``module:attr``."""
    startup_trials: int = 8
    """Random proposals before the sampler's model is used (baselines count towards them)."""
    space: str | None = None
    """A search-space YAML path or built-in name; None: ``default``."""
    seed: int = 0
    """Seeds the sampler, the data samples and the training runs."""
    confirm: int = 2
    """Fresh seeds on which the best mixture and the baselines are re-run at the end."""
    early_stop: str = "auto"
    """ASHA early stopping on the intermediate score: ``auto`` (on from 8 trials), ``on``, ``off``."""
    baselines: tuple[tuple[str, Mapping[str, float]], ...] = ()
    """Extra (name, mixture) pairs scored like the uniform and natural baselines."""
    out: str = "mixopt-out"
    """Output folder: study storage, tracking store, results, report."""
    storage: str | None = None
    """Optuna storage URL; None: SQLite in the output folder."""
    tracking_uri: str | None = None
    """MLflow tracking URI; None: SQLite in the output folder."""
    ray_address: str | None = None
    """Address of a running Ray cluster; None starts a local one."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """The fine-tune each trial runs (searched knobs override it per trial)."""
    allow_pickle: bool = False
    """Allow a model with pickled (non-safetensors) weights."""
    trial_timeout: float | None = None
    """Seconds a trial may run before it is stopped and recorded as failed; None: no limit."""
    max_retries: int = 1
    """Re-runs of a trial whose worker process died (not of a trial that raised). One: a
    worker lost to a pre-empted node or a killed process is rarely lost twice, while a trial
    that takes its worker down every time (the host's OOM killer) would waste the rest."""

    def __post_init__(self) -> None:
        problems = []
        for key in ("budget", "cpus_per_trial"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                problems.append(f"{key} must be a positive integer")
        for key in ("trials", "confirm", "startup_trials", "max_retries"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 0:
                problems.append(f"{key} must be a whole number >= 0")
        if self.concurrency is not None and (
            not isinstance(self.concurrency, int) or self.concurrency < 1
        ):
            problems.append("concurrency must be a positive integer")
        if self.trial_timeout is not None and (
            not isinstance(self.trial_timeout, int | float)
            or isinstance(self.trial_timeout, bool)
            or not self.trial_timeout > 0
            or not math.isfinite(self.trial_timeout)
        ):
            problems.append("trial_timeout must be a positive number of seconds")
        if self.early_stop not in EARLY_STOP:
            problems.append(f"early_stop must be one of {', '.join(EARLY_STOP)}")
        for name, mix in self.baselines:
            if not isinstance(mix, Mapping) or not all(
                isinstance(v, int | float) and math.isfinite(v) for v in mix.values()
            ):
                problems.append(f"baseline {name!r} must map domain names to shares")
        if problems:
            raise ConfigError(problems)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["baselines"] = [[n, dict(m)] for n, m in self.baselines]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SearchConfig:
        data = dict(raw)
        data["train"] = TrainConfig(
            **{
                **data.get("train", {}),
                "target_modules": _tuple(data.get("train", {}).get("target_modules")),
            }
        )
        data["baselines"] = tuple((n, dict(m)) for n, m in data.get("baselines", []))
        return cls(**data)

    def with_(self, **changes: Any) -> SearchConfig:
        return dataclasses.replace(self, **changes)


def _tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)
