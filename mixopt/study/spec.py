"""The study spec: one typed recipe for a study, written once.

A :class:`StudySpec` is what :func:`mixopt.optimize_mixture` takes (its keyword arguments
build one), what ``mixopt search --config study.yaml`` reads, what ``study.json`` holds,
and what ``mixopt search``'s options and help are generated from (:mod:`mixopt.cli._spec`):
a new setting is one field, with its default and its docstring, in one of the parts below.

The parts, each a frozen dataclass: :class:`DataSpec`, :class:`ModelSpec`,
:class:`ScoringSpec`, :class:`SearchSpec`, :class:`~mixopt.training.config.TrainConfig`,
:class:`ExecutionSpec` and :class:`OutputSpec`. Every field has a *flat name* (its own
name, or ``metadata["name"]``), unique across the parts: the keyword of
``optimize_mixture`` and, with dashes, the CLI option.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.budget import parse_budget
from mixopt.errors import ConfigError, MixoptError, did_you_mean
from mixopt.io import without_password
from mixopt.setting import is_int, is_number, setting
from mixopt.training.config import TrainConfig

if TYPE_CHECKING:
    from mixopt.plans import TrialPlan

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SAMPLER",
    "EARLY_STOP",
    "MODEL_ENV",
    "DataSpec",
    "ExecutionSpec",
    "ModelSpec",
    "OutputSpec",
    "ScoringSpec",
    "SearchSpec",
    "StudySpec",
    "default_model",
    "flat_fields",
    "may_change_on_resume",
]

# GP on log-ratio coordinates, with one objective or several: see benchmarks/README.md for how
# the samplers compare ("Several objectives" for studies with more than one)
DEFAULT_SAMPLER = "gp"
# the base model without --model: a small open causal LM (0.5B parameters, ~1 GB of weights),
# so a first study runs on one GPU or, slowly, on a CPU; $MODEL_ENV overrides it
DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B"
MODEL_ENV = "MIXOPT_MODEL"
EARLY_STOP = ("auto", "on", "off")


def _read_baselines(paths: Any) -> tuple[tuple[str, dict[str, float]], ...]:
    """``--baseline MIX.json`` files (named by their stem), or ``{name: mixture}``."""
    from mixopt.io import read_mixture

    if isinstance(paths, Mapping):
        return tuple((str(n), dict(m)) for n, m in paths.items())
    out: dict[str, dict[str, float]] = {}
    for path in [paths] if isinstance(paths, str | Path) else paths:
        # (name, mixture), as study.json keeps it
        if isinstance(path, list | tuple) and len(path) == 2 and isinstance(path[1], Mapping):
            out[str(path[0])] = dict(path[1])
            continue
        name = Path(str(path)).stem
        if name in out:
            raise ConfigError(f"two baseline files are named {name!r}; rename one")
        out[name] = read_mixture(str(path))
    return tuple(out.items())


def _folders(value: Any) -> tuple[str, ...]:
    """``--warm-start OLD_OUT`` folders (repeatable), as absolute paths."""
    items = [value] if isinstance(value, str | Path) else list(value)
    return tuple(str(Path(str(v)).resolve()) for v in items)


def _names(value: Any) -> tuple[str, ...]:
    """``a,b,c`` (or a list) as a tuple of names."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def _repeated(value: Any) -> tuple[str, ...]:
    """Names given once or repeated (``--objective a --objective b``), or as a list."""
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v) for v in items)


def _modules(value: Any) -> tuple[str, ...] | None:
    if value is None or isinstance(value, tuple):
        return value
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


@dataclass(frozen=True)
class DataSpec:
    """The training domains."""

    domains: Any = setting(None, metavar="FILE")
    """The domains file (domains.json); from Python also its parsed list or DomainSpec objects."""
    cache_dir: str | None = setting(None, metavar="DIR", identity=False)
    """Where tokenized domains are cached (default: $MIXOPT_CACHE_DIR or ~/.cache/mixopt)."""


@dataclass(frozen=True)
class ModelSpec:
    """The base model every trial fine-tunes."""

    name: str | None = setting(None, name="model", metavar="MODEL")
    """Base model: a hub id or a local folder (its tokenizer defines what a token is);
    default: $MIXOPT_MODEL, else Qwen/Qwen2.5-0.5B (fetched from the Hugging Face hub once)."""
    allow_pickle: bool = False
    """Allow a model whose weights are pickled (.bin); unpickling can run code."""


@dataclass(frozen=True)
class ScoringSpec:
    """How a trial is scored: the out-of-domain evaluator, and the trial plan."""

    evaluator: Any = setting(None, flag="--eval", flags=("--evaluator",), metavar="TASKS")
    """Task file (downstream/*.yaml) or module:attr; from Python also an evaluator object. It
    scores each trained model out of domain; without it a trial runs leave-one-out (see
    --plan)."""
    plan: str = setting("auto", metavar="NAME")
    """How a trial runs (see 'mixopt ls plans'): one-pass (train once on the mixture, scored
    by --eval), leave-one-out (one training per domain left out, scored by minus that
    domain's loss: for when there is no out-of-domain set), or module:attr; auto: one-pass
    with --eval, leave-one-out without."""
    objectives: tuple[str, ...] = setting(
        (), flag="--objective", parse=_repeated, append=True, metavar="TASK"
    )
    """A scored task of the evaluator to maximize on its own (repeatable; overrides the task
    file's 'objectives:'). With two or more the study is multi-objective: its answer is the
    Pareto front (pareto.json) and the mixture --pick chooses from it."""
    lodo_domains: tuple[str, ...] = setting((), parse=_names, metavar="A,B,C")
    """With leave-one-out: the domains left out in turn (default: all; each costs a training
    per trial)."""
    in_domain: bool = False
    """Also score retention: hold a fixed sample of each domain's records out of training
    (min(128, a tenth) per domain) and add the task in_domain, minus their mean loss, as one
    more objective (one extra forward pass over them per trial)."""

    def __post_init__(self) -> None:
        from mixopt.plans import not_an_evaluator

        if line := not_an_evaluator(self.evaluator):
            raise ConfigError(line)

    def trial_plan(self) -> TrialPlan:
        """The plan the trials run, configured (``lodo_domains``) and checked against the
        evaluator (raises :class:`ConfigError`)."""
        from mixopt.plans import make_plan

        return make_plan(self.plan, self.evaluator is not None, self.lodo_domains)

    def estimate(self) -> str | None:
        """What a trial's score estimates where it is not the user's target (the plan's,
        :func:`mixopt.plans.estimate_of`), said with every lift; None for a score the
        evaluator measures, or a plan of the user's that no longer imports."""
        from mixopt.plans import estimate_of

        try:
            return estimate_of(self.trial_plan())
        except ConfigError:
            return None


@dataclass(frozen=True)
class SearchSpec:
    """What is searched and how proposals are made."""

    budget: int | None = setting(None, parse=parse_budget, metavar="TOKENS")
    """Training tokens per trial, e.g. 50k."""
    target_budget: int | None = setting(None, parse=parse_budget, metavar="TOKENS")
    """The budget of the real run the mixture is for, e.g. 5M: each domain's pool is cut by
    budget / target-budget (a fixed seed), so a trial repeats each domain as often as the
    target run would. Default: the whole pools."""
    trials: int = setting(16, amend=True)
    """Searched trials besides the baselines; 0 scores only the baselines. A resumed study
    may raise it: '--resume OUT --trials N' grows the study to N searched trials."""
    sampler: str = DEFAULT_SAMPLER
    """gp, tpe, cmaes, qmc, random, nsga2, surrogate, or module:attr (see 'mixopt ls samplers');
    with several objectives every one but cmaes and surrogate (gp led there too: benchmarks/README.md)."""
    startup_trials: int = 8
    """Random proposals before the sampler's model is used (baselines count towards them)."""
    space: str | None = None
    """Search space: a built-in name (see 'mixopt ls spaces') or a YAML path; default: the
    built-in 'default'."""
    seed: int = 0
    """Seeds the sampler, the data samples and the training runs."""
    confirm: int = setting(2, amend=True)
    """Fresh seeds the race that chooses the answer runs (the top 3 distinct mixtures and the
    baselines, each on at most this many, shared by all); 0: the search's best score is the
    answer, unconfirmed."""
    confirm_budget: int | None = setting(None, parse=parse_budget, metavar="TOKENS", amend=True)
    """The budget the race runs at, e.g. 500k, on the whole pools, so the answer is chosen at
    (or nearer) the budget of the real run; default: the search's budget."""
    pick: str = setting("balanced", amend=True, metavar="balanced|OBJECTIVE")
    """With several objectives, which mixture of the Pareto front is the answer (the one
    confirmed, exported and tagged best). OBJECTIVE: the front's best on that objective.
    balanced: the front point whose worst objective is best once each objective is scaled
    to [0, 1] by its lowest and highest score over the completed trials (ties: the larger
    mean of the scaled scores). A resumed study may change it: the new pick is confirmed."""
    early_stop: str = setting("auto", choices=EARLY_STOP)
    """Early stopping (ASHA) on the intermediate score: auto (on from 8 trials), on, off."""
    baselines: tuple[tuple[str, Mapping[str, float]], ...] = setting(
        (), flag="--baseline", parse=_read_baselines, append=True, metavar="MIX.json"
    )
    """A mixture file to score beside uniform and natural, named by its file (repeatable)."""
    warm_start: tuple[str, ...] = setting(
        (), parse=_folders, append=True, metavar="OLD_OUT", amend=True
    )
    """An earlier study's folder whose completed trials seed this one (repeatable): trials
    trained under the same settings are reused as they are (not re-trained, not counted in
    --trials); see the README's "Warm start"."""
    warm_start_any: bool = setting(False, amend=True)
    """Use earlier studies trained under other settings (model, budget, evaluator, recipe) too,
    as a prior only: their best mixtures are the first proposals, re-trained here."""

    def __post_init__(self) -> None:
        problems = _whole(self, ("trials", "confirm", "startup_trials"), 0)
        if self.budget is not None and (not is_int(self.budget) or self.budget < 1):
            problems.append("budget must be a positive number of tokens")
        target = self.target_budget
        if target is not None and (not is_int(target) or target < (self.budget or 1)):
            problems.append("target_budget must be a number of tokens no smaller than the budget")
        chosen_at = self.confirm_budget
        if chosen_at is not None and (not is_int(chosen_at) or chosen_at < (self.budget or 1)):
            problems.append("confirm_budget must be a number of tokens no smaller than the budget")
        if self.early_stop not in EARLY_STOP:
            problems.append(f"early_stop must be one of {', '.join(EARLY_STOP)}")
        for name, mix in self.baselines:
            if not isinstance(mix, Mapping) or not all(
                isinstance(v, int | float) and math.isfinite(v) for v in mix.values()
            ):
                problems.append(f"baseline {name!r} must map domain names to shares")
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True)
class ExecutionSpec:
    """Where and how the trials run. May change when a study is resumed."""

    executor: str = setting("ray", identity=False)
    """ray (Ray Tune: trials in parallel, dead workers retried), inprocess (one trial at a
    time in this process: for debugging), an installed one, or module:attr (see 'mixopt ls
    executors')."""
    concurrency: int | None = setting(None, identity=False)
    """Trials at once; default: one per GPU, else one per --cpus-per-trial CPUs."""
    cpus_per_trial: int = setting(1, identity=False)
    """CPUs (and torch threads) per trial when there are no GPUs."""
    ray_address: str | None = setting(None, identity=False)
    """Address of a running Ray cluster (HOST:PORT or auto); default: Ray's RAY_ADDRESS where
    it is set (as `ray job submit` sets it), else start a local Ray."""
    trial_timeout: float | None = setting(None, metavar="SECONDS", identity=False)
    """Seconds a trial may run before it is stopped and recorded as failed; default: no limit."""
    max_retries: int = setting(1, identity=False)
    """Re-runs of a trial whose worker process died (a trial that raises is never re-run).
    One: a worker lost to a pre-empted node is rarely lost twice, while a trial that takes
    its worker down every time (the host's OOM killer) would waste the rest."""

    def __post_init__(self) -> None:
        problems = _whole(self, ("cpus_per_trial",), 1) + _whole(self, ("max_retries",), 0)
        if self.concurrency is not None:
            problems += _whole(self, ("concurrency",), 1)
        timeout = self.trial_timeout
        if timeout is not None and (
            not is_number(timeout) or not timeout > 0 or not math.isfinite(timeout)
        ):
            problems.append("trial_timeout must be a positive number of seconds")
        if problems:
            raise ConfigError(problems)


@dataclass(frozen=True)
class OutputSpec:
    """Where the study is kept."""

    out: str = setting("mixopt-out", metavar="DIR")
    """Output folder: study storage, tracking store, results, report."""
    storage: str | None = setting(None, metavar="URL")
    """Optuna storage URL; default: SQLite in the output folder."""
    tracking_uri: str | None = setting(None, metavar="URI", identity=False)
    """MLflow tracking URI; default: SQLite in the output folder; 'none': no tracking; or an
    installed tracker's name (see 'mixopt ls trackers')."""


_PARTS: dict[str, type] = {
    "data": DataSpec,
    "model": ModelSpec,
    "scoring": ScoringSpec,
    "search": SearchSpec,
    "train": TrainConfig,
    "execution": ExecutionSpec,
    "output": OutputSpec,
}


@dataclass(frozen=True)
class StudySpec:
    """A whole study: data, model, scoring (evaluator and trial plan), search, training, execution,
    output."""

    data: DataSpec = setting(factory=DataSpec)
    """The training domains."""
    model: ModelSpec = setting(factory=ModelSpec)
    """The base model."""
    scoring: ScoringSpec = setting(factory=ScoringSpec)
    """The trial plan and the out-of-domain evaluator."""
    search: SearchSpec = setting(factory=SearchSpec)
    """What is searched, with which sampler, for how many trials."""
    train: TrainConfig = setting(factory=TrainConfig)
    """The LoRA fine-tune each trial runs (a space's searched knobs override it per trial)."""
    execution: ExecutionSpec = setting(factory=ExecutionSpec)
    """Where the trials run."""
    output: OutputSpec = setting(factory=OutputSpec)
    """Where everything is written."""

    def replace(self, **options: Any) -> StudySpec:
        """A copy with the given flat-named settings changed (``budget="50k"``, ``trials=8``,
        ``learning_rate=1e-3``; ``StudySpec().replace(...)`` builds one from defaults): text
        values are parsed as the CLI parses them, and every problem is reported at once."""
        owners = flat_fields()
        unknown = [k for k in options if k not in owners]
        if unknown:
            raise ConfigError([f"unknown setting {k!r}.{did_you_mean(k, owners)}" for k in unknown])
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in options.items():
            part, f = owners[key]
            grouped.setdefault(part, {})[f.name] = _parsed(f, value)
        return self._with_parts(grouped)

    def absolute(self) -> StudySpec:
        """A copy with the local paths it names made absolute: the output folder, the domains
        and task files, a search space file, a local model folder and the cache. Kept so in
        ``study.json``, the study runs its trials (elsewhere) and resumes from any folder."""
        from mixopt.models import resolve_reference

        def path(value: Any) -> str:
            return str(Path(value).expanduser().resolve())

        changes: dict[str, Any] = {"out": path(self.output.out)}
        if isinstance(self.data.domains, str | Path):
            changes["domains"] = path(self.data.domains)
        if self.data.cache_dir is not None:
            changes["cache_dir"] = path(self.data.cache_dir)
        tasks = self.scoring.evaluator
        if isinstance(tasks, Path) or (
            isinstance(tasks, str) and tasks.endswith((".yaml", ".yml", ".jsonl"))
        ):  # a task file, or a data file read as a loss task
            changes["evaluator"] = path(tasks)
        if self.search.space is not None and Path(self.search.space).suffix:  # not a built-in
            changes["space"] = path(self.search.space)
        # a local folder; a hub id stays as it is, and so does a missing folder (the checks
        # say so, in the words it was given in)
        with contextlib.suppress(ConfigError):
            changes["model"] = resolve_reference(self.model.name or "")
        return self.replace(**changes)

    def _with_parts(self, grouped: Mapping[str, Mapping[str, Any]]) -> StudySpec:
        problems: list[str] = []
        parts: dict[str, Any] = {}
        for part, changes in grouped.items():
            try:
                parts[part] = dataclasses.replace(getattr(self, part), **changes)
            except MixoptError as exc:
                problems.extend(exc.problems)
            except (TypeError, ValueError) as exc:
                problems.append(f"{part}: {exc}")
        if problems:
            raise ConfigError(problems)
        return dataclasses.replace(self, **parts)

    @classmethod
    def load(cls, path: str | Path) -> StudySpec:
        """A spec from a YAML (or JSON) file such as ``study.yaml``; the files it names
        (domains, task file, search space) are relative to it."""
        from mixopt.io import read_yaml

        path = Path(path)
        raw = read_yaml(path, "study spec")
        spec = cls.from_dict(raw, str(path))
        here = path.resolve().parent
        changes: dict[str, Any] = {}
        for key, value in (
            ("domains", spec.data.domains),
            ("evaluator", spec.scoring.evaluator),
            ("space", spec.search.space),
        ):
            if isinstance(value, str) and (here / value).exists() and not Path(value).is_absolute():
                changes[key] = str(here / value)
        return spec.replace(**changes)

    @classmethod
    def from_dict(cls, raw: Any, origin: str = "study spec") -> StudySpec:
        """A spec from its nested form (``study.yaml``, ``study.json``); unknown keys are
        refused with a suggestion, and every problem is reported at once."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{origin}: expected a mapping of {', '.join(_PARTS)}")
        problems = [
            f"{origin}: unknown section {k!r}.{did_you_mean(str(k), _PARTS)}"
            for k in raw
            if k not in _PARTS
        ]
        grouped: dict[str, dict[str, Any]] = {}
        for part, kind in _PARTS.items():
            section = raw.get(part) or {}
            if not isinstance(section, Mapping):
                problems.append(f"{origin}: {part} must be a mapping")
                continue
            names = {f.name: f for f in dataclasses.fields(kind)}
            for key, value in section.items():
                if key not in names:
                    problems.append(
                        f"{origin}: unknown key {part}.{key}.{did_you_mean(str(key), names)}"
                    )
                    continue
                try:
                    grouped.setdefault(part, {})[key] = _parsed(names[key], value)
                except MixoptError as exc:
                    problems.extend(f"{origin}: {part}.{key}: {p}" for p in exc.problems)
        try:
            spec = cls()._with_parts(grouped)
        except MixoptError as exc:
            problems.extend(f"{origin}: {p}" for p in exc.problems)
        if problems:
            raise ConfigError(problems)
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The nested form, JSON-ready; Python objects (inline domains, an evaluator object)
        are written as None (``data.domains``) or their repr (``scoring.evaluator``), URLs
        without their password (so a resumed study compares equal given it again or not)."""
        out: dict[str, Any] = {}
        for part in _PARTS:
            values = dataclasses.asdict(getattr(self, part))
            out[part] = {k: _plain(v) for k, v in values.items()}
        if not isinstance(self.data.domains, str | Path | None):
            out["data"]["domains"] = None
        evaluator = self.scoring.evaluator
        out["scoring"]["evaluator"] = (
            None
            if evaluator is None
            else str(evaluator)
            if isinstance(evaluator, str | Path)
            else repr(evaluator)
        )
        return out

    def identity(self) -> dict[str, Any]:
        """What defines the study (two specs that differ here are different studies); the
        rest (execution, tracking, cache, the training device) may change on resume."""
        whole = self.to_dict()
        owners = flat_fields()
        for part, f in owners.values():
            if f.metadata.get("identity", True) is False:
                whole[part].pop(f.name, None)
        return whole

    def changes(self, held: StudySpec) -> dict[str, tuple[Any, Any]]:
        """The settings that define a study in which this spec differs from ``held``, by flat
        name: (held's value, this spec's), as ``study.json`` writes them."""
        mine, theirs = self.identity(), held.identity()
        out: dict[str, tuple[Any, Any]] = {}
        for flat, (part, f) in flat_fields().items():
            if f.name in mine[part] and mine[part][f.name] != theirs[part].get(f.name):
                out[flat] = (theirs[part].get(f.name), mine[part][f.name])
        return out

    def differences(self, held: StudySpec, on_resume: bool = False) -> list[str]:
        """The changes from ``held``, one ``budget: 50000 -> 60000`` each; ``on_resume``: only
        those a resumed study refuses (see :func:`may_change_on_resume`)."""
        return [
            f"{k}: {_shown(old)} -> {_shown(new)}"
            for k, (old, new) in self.changes(held).items()
            if not (on_resume and may_change_on_resume(k))
        ]

    def missing(self) -> list[str]:
        """The settings a study cannot do without, by flat name."""
        needed = {"domains": self.data.domains, "budget": self.search.budget}
        return [k for k, v in needed.items() if v is None]

    def items(self) -> Iterator[tuple[str, Any]]:
        """(flat name, value) of every setting, for logging (URLs without their password)."""
        for flat, (part, f) in flat_fields().items():
            value = getattr(getattr(self, part), f.name)
            yield flat, without_password(value) if isinstance(value, str) else value


def flat_fields() -> dict[str, tuple[str, dataclasses.Field[Any]]]:
    """Flat name -> (part, field) for every setting."""
    out: dict[str, tuple[str, dataclasses.Field[Any]]] = {}
    for part, kind in _PARTS.items():
        for f in dataclasses.fields(kind):
            name = f.metadata.get("name", f.name)
            assert name not in out, f"two settings are named {name!r}"
            out[name] = (part, f)
    return out


def default_model() -> tuple[str, str]:
    """The base model of a study given none, and where it came from (for its error line)."""
    given = os.environ.get(MODEL_ENV, "").strip()
    return (given, f"${MODEL_ENV}") if given else (DEFAULT_MODEL, "the default base model")


def may_change_on_resume(name: str) -> bool:
    """Whether ``--resume`` may change the setting ``name`` (by flat name): those that do not
    define the study (``identity=False``: execution, tracking, the device) and those that
    amend it (``amend=True``: more trials, more confirmation seeds)."""
    _, f = flat_fields()[name]
    return f.metadata.get("identity", True) is False or bool(f.metadata.get("amend"))


def option_of(name: str) -> str:
    """The ``mixopt search`` option of the setting ``name`` (by flat name)."""
    _, f = flat_fields()[name]
    return str(f.metadata.get("flag", "--" + name.replace("_", "-")))


def part_of(name: str) -> type:
    return _PARTS[name]


def _parsed(f: dataclasses.Field[Any], value: Any) -> Any:
    """A field's value from text or from a file's plain value."""
    parse = f.metadata.get("parse")
    if parse is not None and value is not None:
        return parse(value)
    if f.name == "target_modules":
        return _modules(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):  # a URL's password is never written or logged
        return without_password(value)
    return value


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _whole(obj: Any, keys: tuple[str, ...], least: int) -> list[str]:
    what = "a positive integer" if least == 1 else f"a whole number >= {least}"
    return [
        f"{k} must be {what}"
        for k in keys
        if not is_int(getattr(obj, k)) or getattr(obj, k) < least
    ]
