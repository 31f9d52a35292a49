"""Everything a study checks before its first trial, every problem reported at once.

The domains file, the search space, the evaluator suite (its files, its data, and that
evaluation data does not overlap training data), the trial plan against the domains and the
budget, the model reference, the budget against the data and caps, and the extra baselines. Domains are tokenized into a staging folder
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
from mixopt.evaluators.suite import EvalSuite

if TYPE_CHECKING:
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import TokenizedDomain
    from mixopt.events import EventLog
    from mixopt.plans import TrialPlan
    from mixopt.search.proposals.space import SearchSpace
    from mixopt.study.spec import StudySpec

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
    plan: TrialPlan | None = None
    """The trial plan (None where the spec's does not go with its evaluator)."""

    @property
    def objectives(self) -> tuple[str, ...]:
        """The evaluator's objectives; empty: one score (as a plan without an evaluator gives)."""
        return () if self.suite is None else tuple(self.suite.objectives)


class _Problems(list[str]):
    def attempt(self, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return fn(*args)
        except MixoptError as exc:
            self.extend(exc.problems)
            return None


def check_inputs(
    spec: StudySpec, problems: Sequence[str] = (), events: EventLog | None = None
) -> Checked:
    """Check every input the spec gives; raise one :class:`ConfigError` listing all problems
    (``problems`` found by the caller first, e.g. about the output folder). ``mixopt search``
    and ``mixopt validate`` both run it, so they refuse the same things.

    A problem in one input does not stop the checks of the others, nor of the rest of the
    same file: the domains that parse are still read and tokenized, the tasks that parse
    still read their data. Without a model (``validate`` without ``--model``) the checks
    that need tokens are left out. The sampler's name is looked up (a ``module:attr`` one is
    imported); the training device is checked against this machine's torch unless the
    trials run on a Ray cluster joined; ``--objective`` replaces the task file's objectives
    and ``--pick`` must name one of them; ``--in-domain`` carves each domain's held-out
    records off before tokenization and adds the ``in_domain`` task that scores them
    (:mod:`mixopt.evaluators.in_domain`). The trial plan (``--plan``) must go with the
    evaluator, and is asked what it cannot run on. With a target budget the whole pools must
    fill it (the proxy's cut pools then fill the budget)."""
    search, model = spec.search, spec.model.name
    evaluator, objectives = spec.scoring.evaluator, spec.scoring.objectives
    in_domain, cache_dir, baselines = (
        spec.scoring.in_domain,
        spec.data.cache_dir,
        search.baselines,
    )
    # the largest the pools must fill: the real run's, the race's, the search's
    budget = max(
        (b for b in (search.target_budget, search.confirm_budget, search.budget) if b), default=None
    )
    from mixopt.evaluators.overlap import shared_files
    from mixopt.search.proposals.space import load_space

    found = _Problems(problems)
    specs, domains_ok = _specs(spec.data.domains, found)
    loaded_space = found.attempt(load_space, search.space)
    # the space's bounds and caps name domains: checked against a domains file without problems
    applied = (
        found.attempt(loaded_space.apply_specs, specs)
        if loaded_space and specs and domains_ok
        else None
    )
    suite = _suite(evaluator, found, objectives, in_domain) if evaluator is not None else None
    plan = _plan(spec, found)
    # problems with some tasks' data; the others are checked for overlap
    if isinstance(suite, EvalSuite):
        found.extend(suite.check() + (shared_files(suite, specs) if specs else []))
    chosen = suite.objectives if suite is not None else tuple(objectives)
    _check_choices(found, baselines, search.sampler, search.pick, chosen)
    from mixopt.search.executors import runs_remotely

    if not runs_remotely(spec.execution):  # a cluster's workers' devices cannot be checked here
        from mixopt.training.device import device_problems

        found.extend(device_problems(spec.train.device))
    model_ref, tokenizer = _model(model, found) if model is not None else (None, None)
    if model_ref is not None and not spec.model.allow_pickle:
        found.extend(_pickled_only(model_ref))
    if tokenizer is None or not specs:
        if found:
            raise ConfigError(found)
        assert loaded_space is not None
        return Checked(applied or specs, loaded_space, suite, model_ref, None, plan=plan)
    domains, normalized = _publish_checked(
        applied or specs,
        tokenizer,
        suite,
        plan,
        budget if applied else None,
        baselines if applied else (),
        cache_dir,
        found,
        events,
        in_domain,
    )
    assert loaded_space is not None and applied is not None
    if in_domain and isinstance(suite, EvalSuite):  # the held-out records, from the cache
        suite = _held_out(suite, domains, _Problems())
    return Checked(applied, loaded_space, suite, model_ref, domains, normalized, plan)


def _check_choices(
    found: _Problems,
    baselines: Sequence[tuple[str, Mapping[str, float]]],
    sampler: str,
    pick: str,
    objectives: Sequence[str],
) -> None:
    """The names a study chooses by: its extra baselines' (not a reserved one), its sampler's
    and its Pareto pick's (each able to serve ``objectives``)."""
    found.extend(
        f"baseline name {name!r} is taken; name it otherwise"
        for name, _ in baselines
        if name in RESERVED_BASELINES
    )
    found.attempt(_sampler, sampler, objectives)
    found.attempt(_pick, pick, objectives)


def _publish_checked(
    specs: Sequence[DomainSpec],
    tokenizer: Any,
    suite: EvalSuite | None,
    plan: TrialPlan | None,
    budget: int | None,
    baselines: Sequence[tuple[str, Mapping[str, float]]],
    cache_dir: str | Path | None,
    found: _Problems,
    events: EventLog | None,
    in_domain: bool,
) -> tuple[tuple[TokenizedDomain, ...], tuple[tuple[str, dict[str, float]], ...]]:
    """Tokenize the domains into a staging folder and run the checks that need tokens; only
    when no problem is found (``found`` included) do the tokens enter the cache."""
    from mixopt.data.tokenize import publish

    stage = tempfile.mkdtemp(prefix="mixopt-stage-")
    try:
        domains, normalized = _tokenized_checks(
            specs,
            tokenizer,
            suite,
            plan,
            budget,
            baselines,
            cache_dir,
            stage,
            found,
            events,
            in_domain,
        )
        if found:
            raise ConfigError(found)
        assert domains is not None
        return publish(domains, stage, cache_dir), normalized
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _specs(data: Any, found: _Problems) -> tuple[tuple[DomainSpec, ...], bool]:
    """The domains that can be checked further, and whether the domains file had no problem."""
    from mixopt.data.spec import DomainSpec, read_domains, read_domains_file

    if isinstance(data, Sequence) and data and all(isinstance(d, DomainSpec) for d in data):
        return tuple(data), True
    try:
        if isinstance(data, str | Path):
            specs, problems = read_domains_file(data, check_files=True)
        else:
            specs, problems = read_domains(data, check_files=True)
    except MixoptError as exc:  # the file cannot be read at all
        found.extend(exc.problems)
        return (), False
    found.extend(problems)
    return specs, not problems


def _suite(
    evaluator: Any, found: _Problems, objectives: Sequence[str] = (), in_domain: bool = False
) -> EvalSuite | None:
    from mixopt.evaluators.in_domain import with_in_domain
    from mixopt.evaluators.tasks import check_evaluator
    from mixopt.plans import not_an_evaluator

    if line := not_an_evaluator(evaluator):
        found.append(line)
        return None
    suite, problems = check_evaluator(evaluator)
    found.extend(problems)
    if isinstance(suite, EvalSuite) and objectives:
        suite = found.attempt(suite.with_objectives, objectives)
    if isinstance(suite, EvalSuite) and in_domain:
        return found.attempt(with_in_domain, suite) or suite
    return suite


def _plan(spec: StudySpec, found: _Problems) -> TrialPlan | None:
    """The trial plan the spec chooses (``auto``: by whether it gives an evaluator). One that
    scores the trials itself leaves nothing for objectives (tasks of a task file) and for the
    retention objective beside a task file's score."""
    plan = found.attempt(spec.scoring.trial_plan)
    if plan is None or spec.scoring.evaluator is not None:
        return plan
    if objectives := spec.scoring.objectives:
        found.append(
            f"--objective names tasks of a task file; {plan.name} gives one score (got {', '.join(objectives)})"
        )
    if spec.scoring.in_domain:
        found.append(
            "--in-domain adds a retention objective beside an out-of-domain task file's score (--eval TASKS); "
            f"{plan.name} already scores on the domains' own records"
        )
    return plan


def _sampler(name: str, objectives: Sequence[str] = ()) -> None:
    """The sampler's name is known (a built-in, a plugin, or importable ``module:attr``), it
    declares it takes the study's objectives (one that declares nothing is taken to), and one
    that declares it needs the study's simplex has ``attach``."""
    from mixopt.search.proposals.samplers import (
        SAMPLERS,
        capabilities_of,
        check_attach,
        make_sampler,
        sampler_capabilities,
    )

    declared = sampler_capabilities(name)
    if declared.needs_simplex:  # built now to look (a sampler's constructor only stores)
        check_attach(make_sampler(name, 0, 0), name)
    if len(objectives) > 1 and not declared.multi_objective:
        builtins = SAMPLERS.builtins()
        takes = ", ".join(
            n
            for n in SAMPLERS.names()
            if n not in builtins or capabilities_of(builtins[n]).multi_objective
        )
        raise ConfigError(
            f"sampler {name!r} takes one objective, and the study has {len(objectives)} "
            f"({', '.join(objectives)}); use one of {takes}"
        )


def _pick(pick: str, objectives: Sequence[str]) -> None:
    """``--pick`` is ``balanced`` or one of several objectives."""
    from mixopt.errors import did_you_mean

    if pick == "balanced" or pick in objectives:
        return
    if len(objectives) < 2:
        raise ConfigError(
            f"--pick {pick} chooses from the Pareto front of several objectives, and this study has "
            f"{'one score' if not objectives else 'one objective'}; give two or more --objective"
        )
    raise ConfigError(
        f"--pick {pick!r} is neither balanced nor an objective ({', '.join(objectives)}).{did_you_mean(pick, ['balanced', *objectives])}"
    )


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
    plan: TrialPlan | None,
    budget: int | None,
    baselines: Sequence[tuple[str, Mapping[str, float]]],
    cache_dir: str | Path | None,
    stage: str,
    found: _Problems,
    events: EventLog | None,
    in_domain: bool = False,
) -> tuple[tuple[TokenizedDomain, ...] | None, tuple[tuple[str, dict[str, float]], ...]]:
    from mixopt.data.allocation import check_budget, normalize_mixture
    from mixopt.data.tokenize import tokenize_domains
    from mixopt.evaluators.overlap import overlap_problems

    # with --in-domain the pools (and so every check below) are without the held-out records
    domains = found.attempt(tokenize_domains, specs, tokenizer, cache_dir, stage, events, in_domain)
    if domains is None:
        return None, ()
    if plan is not None:  # e.g. leave-one-out: the rest must fill the budget without each
        found.extend(plan.problems(domains, budget))
    if suite is not None:
        found.extend(overlap_problems(suite, domains))
        if in_domain:
            _held_out(suite, domains, found)
    if budget is not None:
        found.attempt(check_budget, domains, budget)
    normalized = []
    for name, mix in baselines:
        try:
            normalized.append((name, normalize_mixture(mix, domains)))
        except MixoptError as exc:
            found.extend(f"baseline {name!r}: {p}" for p in exc.problems)
    return domains, tuple(normalized)


def _held_out(suite: EvalSuite, pools: Sequence[TokenizedDomain], found: _Problems) -> EvalSuite:
    """``suite`` with its ``in_domain`` task scoring each pool's held-out records that no pool
    holds (a duplicated record is not measured), checked as evaluation data against the pools."""
    from mixopt.data.tokenize import held_out_of
    from mixopt.evaluators.in_domain import held_by, unseen
    from mixopt.evaluators.overlap import held_out_overlap

    held, problems = unseen([held_out_of(d) for d in pools], pools)
    found.extend(problems + held_out_overlap(held, pools))
    return held_by(suite, held)


def check_filters(
    space: SearchSpace,
    domains: Sequence[TokenizedDomain],
    model: str | None,
    budget: int | None,
    cache_dir: str | Path | None = None,
    events: EventLog | None = None,
) -> dict[str, dict[str, str]]:
    """Score the domains the space's filters read (from the cache where it can), and refuse,
    one line each, filters that cannot work: a scorer that needs a prompt on text records,
    and thresholds that even at their loosest keep no record of any domain, or too little
    for the budget. Returns the score table the trials read."""
    from mixopt.data.allocation import check_budget
    from mixopt.data.filtering import filter_domains
    from mixopt.models import load_tokenizer
    from mixopt.scorers import make_scorer, needs_instruction
    from mixopt.scorers.cache import score_domains

    filters = space.filters
    if not filters:
        return {}
    names = [d.name for d in domains]
    only = filters.scorers_by_domain(names)
    problems = [
        f"filters: {scorer} needs a prompt, and domain {d.name!r} holds text records; "
        f"filter {scorer} per_domain on prompt/completion or chat domains only"
        for d in domains
        for scorer in only[d.name]
        if d.format == "text"
        and needs_instruction(make_scorer(scorer, dict(filters.settings[scorer])))
    ]
    if problems:
        raise ConfigError(problems)
    tokenizer = load_tokenizer(model) if model else None
    scores = score_domains(domains, filters.settings, model, cache_dir, events, only, tokenizer)
    loosest = filter_domains(domains, scores, filters.loosest())
    if all(d.num_records == 0 for d in loosest):
        raise ConfigError(
            "filters: even at their loosest thresholds they keep no record of any domain"
        )
    if budget is not None:
        try:
            check_budget(loosest, budget)
        except MixoptError as exc:
            raise ConfigError(f"filters: at their loosest thresholds, {exc.problems[0]}") from None
    return scores
