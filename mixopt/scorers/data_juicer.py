"""Data-Juicer filter ops as scorers: ``dj:<op_name>`` scores each record by the op's own statistic.

Where ``py-data-juicer`` is installed (``pip install 'mixopt[data-juicer]'``), any of its
filter ops is a scorer by name, e.g. ``dj:special_characters_filter``. Its settings are the
op's own constructor arguments (its thresholds are moot: the filter's ``min``/``max`` bound
the statistic), plus ``stat`` to choose one when the op computes several. Each batch of
records, as trained, goes through the op's ``compute_stats_batched`` (``compute_stats_single``
per record for ops without it), and the statistic under ``__dj__stats__`` is the score.

mixopt runs offline, and Data-Juicer fetches what it lacks by itself: its ops load models
through ``prepare_model`` (``data_juicer/utils/model_utils.py``: KenLM, sentencepiece,
fastText, NLTK, spaCy and Hugging Face models, downloaded when missing; some when the op is
built, some when first used), some download word lists (``load_words_asset``, from
``utils/asset_utils.py``), and a missing package behind a ``LazyLoader`` is ``uv pip
install``-ed when first touched. So an op is built and run on a probe record before the first
trial with all of that barred, and refused, with one line, when it

- declares a model (a ``prepare_model`` key, whether loaded when built or when first used),
  however it would be found, or
- tries to open a network connection or start a process (a download, a package install),
  caught by an audit hook (:func:`sys.addaudithook`) before anything leaves the machine.

The same bar stays up while the op scores a domain, so nothing is installed or downloaded then.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import inspect
import json
import math
import numbers
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

from mixopt.errors import ConfigError, did_you_mean, error_line
from mixopt.scorers._base import ScoreInput

__all__ = ["DISTRIBUTION", "PREFIX", "DataJuicerFilter", "dj_factory", "installed_version"]

PREFIX = "dj:"
DISTRIBUTION = "py-data-juicer"
INSTALL = "pip install 'mixopt[data-juicer]'"
_BATCH = 1000
# two records that every text op can read: what the probe before the first trial scores
_PROBE = [
    "A short probe sentence, with 3 digits: 1 2 3.",
    "Two lines\nof probe text, the second one longer.",
]
# the built-in scorer to use instead of a refused op
_BUILT_IN = {
    "perplexity_filter": "perplexity",
    "llm_perplexity_filter": "perplexity",
    "instruction_following_difficulty_filter": "ifd",
    "token_num_filter": "length",
}
# audit events that reach the network or start a process (pip, uv, wget...)
_EVENTS = frozenset(
    {
        "urllib.Request",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.connect",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
    }
)
# where each process-starting event holds the command line
_COMMAND = {"subprocess.Popen": 1, "os.system": 0, "os.exec": 1, "os.posix_spawn": 1, "os.spawn": 2}
_BARRED: ContextVar[_Bar | None] = ContextVar("mixopt_dj_barred", default=None)
_HOOKED: list[bool] = []


def installed_version() -> str | None:
    """The installed ``py-data-juicer`` version, or None (nothing is imported)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


class _Refused(Exception):
    """Raised inside a barred call: the op reached for the network, a process or a model."""


class _Bar:
    """What an op reached for while barred (the first reason is kept even when Data-Juicer
    catches the exception and tries another way), and when: built, or scoring."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.phase = "imported"


def _note(what: str, tail: str = "") -> NoReturn:
    """Record why the op is refused (what it did, when, and ``tail``), and stop it."""
    bar = _BARRED.get()
    reason = f"{what} when {bar.phase if bar else 'run'}{tail}"
    if bar is not None:
        bar.reasons.append(reason)
    raise _Refused(reason)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or _BARRED.get() is None:
        return
    if event == "urllib.Request":
        _note(f"downloads {args[0]}")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        _note(f"reaches {args[0]} over the network")
    elif event == "socket.connect":
        _note(f"opens a connection to {args[1]!r}")
    command = args[_COMMAND[event]]
    words = [str(w) for w in command] if isinstance(command, list | tuple) else str(command).split()
    if "install" in words and any(w.endswith("pip") for w in words):
        package = next(
            (w for w in words[words.index("install") + 1 :] if not w.startswith("-")), "a package"
        )
        _note(f"installs {package} with {' '.join(w for w in words if w in ('uv', 'pip'))}")
    _note(f"starts a process ({' '.join(words)[:80]})")


class _Model:
    """Stands in for one of Data-Juicer's model loaders while an op is barred: building or
    calling it refuses the op (Data-Juicer downloads its models when missing)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def describe(self, keywords: Mapping[str, Any]) -> tuple[str, str]:
        """What the op does with the model, and a tail to say after when."""
        named = next(
            (
                keywords[k]
                for k in (
                    "pretrained_model_name_or_path",
                    "model_path",
                    "model_name",
                    "model",
                    "lang",
                )
                if isinstance(keywords.get(k), str)
            ),
            None,
        )
        which = f" ({named})" if named else ""
        if self.kind == "api":
            return f"calls a model behind an API{which}", ""
        return f"loads a {self.kind} model{which}", ", which Data-Juicer downloads when missing"

    def __call__(self, *args: Any, **keywords: Any) -> NoReturn:
        _note(*self.describe(keywords))


@contextlib.contextmanager
def _barred() -> Iterator[_Bar]:
    """While open in this thread: models, network and processes refuse the op. (The model
    loaders are swapped for all threads: mixopt scores one domain at a time, in one thread.)"""
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    bar = _Bar()
    token = _BARRED.set(bar)
    try:
        import data_juicer.utils.model_utils as models

        loaders = models.MODEL_FUNCTION_MAPPING
        models.MODEL_FUNCTION_MAPPING = {kind: _Model(kind) for kind in loaders}
        try:
            yield bar
        finally:
            models.MODEL_FUNCTION_MAPPING = loaders
    finally:
        _BARRED.reset(token)


def _declared_model(op: Any) -> str | None:
    """What model the op was built to load when first used (a ``prepare_model`` key), if any."""
    values = list(vars(op).values())
    for v in list(values):
        if isinstance(v, list | tuple):
            values.extend(v)
        elif isinstance(v, dict):
            values.extend(v.values())
    for v in values:
        if isinstance(v, functools.partial) and isinstance(v.func, _Model):
            what, tail = v.func.describe(v.keywords)
            return f"{what} when it first scores{tail}"
    return None


@functools.cache
def _filters() -> dict[str, type]:
    """Data-Juicer's filter ops by name, its plugins' included (importing them takes seconds:
    done once, when a ``dj:`` scorer is first named; the table is kept for every later op)."""
    try:
        with _barred():
            from data_juicer.ops.base_op import OPERATORS, Filter
    except _Refused as exc:
        raise ConfigError(f"Data-Juicer {exc}; mixopt runs offline") from None
    from loguru import logger

    logger.disable("data_juicer")  # its INFO lines on every op; mixopt says what matters
    return {
        name: cls
        for name, cls in OPERATORS.modules.items()
        if name.endswith("_filter") and issubclass(cls, Filter)
    }


def _own_parameters(cls: type) -> list[str]:
    """The op's constructor arguments, its own and those of the classes it extends (not the
    base op's, such as ``text_key``: mixopt hands the op its records itself)."""
    from data_juicer.ops.base_op import OP

    names: list[str] = []
    for klass in cls.__mro__:
        if klass is OP or not issubclass(klass, OP) or "__init__" not in vars(klass):
            continue
        for p in inspect.signature(vars(klass)["__init__"]).parameters.values():
            if (
                p.name != "self"
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and p.name not in names
            ):
                names.append(p.name)
    return names


def dj_factory(name: str) -> Callable[..., DataJuicerFilter]:
    """What the scorer registry returns for ``dj:<op_name>``: called with the settings, it
    checks the op offline and returns the scorer (one-line :class:`ConfigError` otherwise)."""
    op = name[len(PREFIX) :]
    if installed_version() is None:
        raise ConfigError(f"scorer {name!r}: Data-Juicer is not installed; {INSTALL}")
    ops = _filters()
    if op not in ops:
        close = did_you_mean(name, [PREFIX + o for o in ops])
        raise ConfigError(
            f"Unknown scorer {name!r}: Data-Juicer {installed_version()} has no filter op {op!r}.{close}"
        )
    return functools.partial(_checked, op)


def _checked(op: str, stat: str | None = None, **args: Any) -> DataJuicerFilter:
    cls = _filters()[op]
    known = _own_parameters(cls)
    unknown = [k for k in args if k not in known]
    if unknown:
        raise ConfigError(
            f"scorer '{PREFIX}{op}': unknown setting {unknown[0]!r}.{did_you_mean(unknown[0], known)} "
            f"Its settings: {', '.join([*known, 'stat'])}"
        )
    keys = _probe(op, json.dumps(args, sort_keys=True, default=str))
    if stat is None:
        if len(keys) > 1:
            raise ConfigError(
                f"scorer '{PREFIX}{op}' computes {len(keys)} statistics ({', '.join(keys)}); choose one with stat: NAME"
            )
        stat = keys[0]
    elif stat not in keys:
        raise ConfigError(
            f"scorer '{PREFIX}{op}': stat {stat!r} is not one it computes.{did_you_mean(stat, keys)} It computes: {', '.join(keys)}"
        )
    return DataJuicerFilter(op, stat, args, installed_version() or "")


@functools.cache
def _probe(op: str, args_json: str) -> tuple[str, ...]:
    """The numeric statistics the op computes on text records, built and run on two probe
    records with models, network and processes barred (cached per op and settings)."""
    args = json.loads(args_json)
    stats = _run(op, args, _PROBE)
    keys = tuple(k for k in stats[0] if all(_number(s.get(k)) for s in stats))
    if not keys:
        found = ", ".join(f"{k} ({type(v).__name__})" for k, v in stats[0].items())
        raise ConfigError(
            f"scorer '{PREFIX}{op}' computes no number from a record's text "
            f"({'only ' + found if found else 'no statistic'}); mixopt scores text records"
        )
    return keys


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(float(value))


def _run(op: str, args: Mapping[str, Any], texts: Sequence[str]) -> list[dict[str, Any]]:
    """The op's ``__dj__stats__`` of each text, with models, network and processes barred."""
    from data_juicer.utils.constant import Fields

    scorer = f"scorer '{PREFIX}{op}'"
    cls = _filters()[op]
    out: list[dict[str, Any]] = []
    with _barred() as bar:
        try:
            bar.phase = "built"
            built = cls(**args)
            bar.phase = "scoring"
            model = _declared_model(built)
            if model is not None:
                bar.reasons.append(model)
            else:
                for start in range(0, len(texts), _BATCH):
                    batch = list(texts[start : start + _BATCH])
                    stats: list[dict[str, Any]] = [{} for _ in batch]
                    if built.is_batched_op():
                        built.compute_stats_batched({built.text_key: batch, Fields.stats: stats})
                    else:
                        for text, s in zip(batch, stats, strict=True):
                            s.update(
                                built.compute_stats_single({built.text_key: text, Fields.stats: s})[
                                    Fields.stats
                                ]
                            )
                    out.extend(stats)
        except Exception as exc:  # whatever the op raised, said on one line
            if not bar.reasons:
                missing = (
                    f"; it reads field {exc.args[0]!r}, and mixopt gives ops each record's text"
                    if isinstance(exc, KeyError)
                    else ""
                )
                given = f" with settings {dict(args)}" if args else ""
                raise ConfigError(
                    f"{scorer}{given} fails when {bar.phase} ({error_line(exc)}){missing}"
                ) from None
    if bar.reasons:
        instead = f": use the built-in scorer {_BUILT_IN[op]!r}" if op in _BUILT_IN else ""
        raise ConfigError(f"{scorer} {bar.reasons[0]}; mixopt runs offline{instead}")
    return out


class DataJuicerFilter:
    """One Data-Juicer filter op's statistic per record (``dj:<op_name>``), computed by the op."""

    uses_model = False
    needs_instruction = False

    def __init__(self, op: str, stat: str, args: Mapping[str, Any], version: str) -> None:
        self.op, self.stat, self.args, self.version = op, stat, dict(args), version

    def settings(self) -> dict[str, Any]:
        return {"op": self.op, "stat": self.stat, "args": self.args, DISTRIBUTION: self.version}

    def score(self, data: ScoreInput) -> Sequence[float]:
        stats = _run(self.op, self.args, data.texts())
        bad = next((i for i, s in enumerate(stats) if not _number(s.get(self.stat))), None)
        if bad is not None:
            raise ConfigError(
                f"scorer '{PREFIX}{self.op}' on domain {data.domain.name!r}: record {bad} has "
                f"{self.stat}={stats[bad].get(self.stat)!r}, not a finite number"
            )
        return [float(s[self.stat]) for s in stats]
