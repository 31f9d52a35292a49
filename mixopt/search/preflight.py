"""Everything a study checks before its first trial, every problem reported at once.

The domains file, the search space, the evaluator suite (its files, its data, and that
evaluation data does not overlap training data), the model reference, the budget against
the data and caps, and the extra baselines. Domains are tokenized into a staging folder
that enters the cache only when every check passes: a run refused here writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mixopt.errors import ConfigError, MixoptError

if TYPE_CHECKING:
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.evaluators.suite import EvalSuite
    from mixopt.events import EventLog
    from mixopt.search.space import SearchSpace

__all__ = ["Checked", "check_inputs"]

T = TypeVar("T")
RESERVED_BASELINES = ("uniform", "natural", "best")


@dataclass(frozen=True)
class Checked:
    """What the checks built (None where an input was not given)."""

    specs: tuple[DomainSpec, ...]
    """The domains, with the search space's bounds and caps applied."""
    space: SearchSpace
    suite: EvalSuite | None
    model_ref: str | None
    """The model as a hub id or an absolute local folder."""
    domains: tuple[TokenizedDomain, ...] | None
    """The tokenized domains, in the cache (only when a model was given)."""
    baselines: tuple[tuple[str, dict[str, float]], ...] = ()
    """The extra baselines, normalized (only when a model was given)."""


class _Problems(list[str]):
    def attempt(self, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return fn(*args)
        except MixoptError as exc:
            self.extend(exc.problems)
            return None


def check_inputs(
    data: Any,
    model: str | None = None,
    evaluator: Any = None,
    budget: int | None = None,
    space: str | Path | None = None,
    baselines: Sequence[tuple[str, Mapping[str, float]]] = (),
    cache_dir: str | Path | None = None,
    problems: Sequence[str] = (),
    allow_pickle: bool = False,
    events: EventLog | None = None,
) -> Checked:
    """Check every input that is given; raise one :class:`ConfigError` listing all problems
    (``problems`` found by the caller first, e.g. about the output folder)."""
    from mixopt.evaluators.overlap import shared_files
    from mixopt.evaluators.tasks import make_evaluator
    from mixopt.search.space import load_space

    found = _Problems(problems)
    specs = found.attempt(_specs, data)
    loaded_space = found.attempt(load_space, space)
    applied = found.attempt(loaded_space.apply_specs, specs) if loaded_space and specs else None
    suite = found.attempt(make_evaluator, evaluator) if evaluator is not None else None
    if suite is not None:  # problems with some tasks' data; the others are checked for overlap
        found.extend(suite.check() + (shared_files(suite, specs) if specs else []))
    found.extend(
        f"baseline name {name!r} is taken; name it otherwise"
        for name, _ in baselines
        if name in RESERVED_BASELINES
    )
    model_ref, tokenizer = _model(model, found) if model is not None else (None, None)
    if model_ref is not None and not allow_pickle:
        found.extend(_pickled_only(model_ref))
    if tokenizer is None or applied is None:
        if found:
            raise ConfigError(found)
        assert specs is not None and loaded_space is not None
        return Checked(applied or specs, loaded_space, suite, model_ref, None)
    stage = tempfile.mkdtemp(prefix="mixopt-stage-")
    try:
        domains, normalized = _tokenized_checks(
            applied, tokenizer, suite, budget, baselines, cache_dir, stage, found, events
        )
        if found:
            raise ConfigError(found)
        from mixopt.data.tokenize import publish

        assert domains is not None and loaded_space is not None
        domains = publish(domains, stage, cache_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Checked(applied, loaded_space, suite, model_ref, domains, normalized)


def _specs(data: Any) -> tuple[DomainSpec, ...]:
    from mixopt.data.spec import DomainSpec, load_domains, parse_domains

    if isinstance(data, str | Path):
        return load_domains(data)
    if isinstance(data, Sequence) and data and all(isinstance(d, DomainSpec) for d in data):
        return tuple(data)
    return parse_domains(data)


def _model(model: str, found: _Problems) -> tuple[str | None, Any]:
    from mixopt.models import load_tokenizer, resolve_reference

    ref = found.attempt(resolve_reference, model)
    return ref, found.attempt(load_tokenizer, model) if ref else None


def _pickled_only(ref: str) -> list[str]:
    """A local model whose weights exist only pickled: refused unless allowed (a hub model's
    files are not known before they are fetched; loading it refuses pickles the same way)."""
    folder = Path(ref)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return []
    pickled = sorted(
        p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")
    )
    if not pickled:
        return []
    return [
        f"model {ref!r}: its weights are pickled ({pickled[0]}), and unpickling can run code; "
        "convert them to safetensors, or pass --allow-pickle if you trust them"
    ]


def _tokenized_checks(
    specs: Sequence[DomainSpec],
    tokenizer: Any,
    suite: EvalSuite | None,
    budget: int | None,
    baselines: Sequence[tuple[str, Mapping[str, float]]],
    cache_dir: str | Path | None,
    stage: str,
    found: _Problems,
    events: EventLog | None,
) -> tuple[tuple[TokenizedDomain, ...] | None, tuple[tuple[str, dict[str, float]], ...]]:
    from mixopt.data.allocation import check_budget, normalize_mixture
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.evaluators.overlap import overlap_problems

    domains = found.attempt(tokenize_domains, specs, tokenizer, cache_dir, stage, events)
    if domains is None:
        return None, ()
    if suite is not None:
        found.extend(overlap_problems(suite, domains))
    if budget is not None:
        found.attempt(check_budget, domains, budget)
    normalized = []
    for name, mix in baselines:
        try:
            normalized.append((name, normalize_mixture(mix, domains)))
        except MixoptError as exc:
            found.extend(f"baseline {name!r}: {p}" for p in exc.problems)
    return domains, tuple(normalized)
