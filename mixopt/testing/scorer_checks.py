"""The contract check of scorers (:func:`check_scorer`), to call from a plug-in's own tests::

    from mixopt.testing import check_scorer

    def test_my_scorer():
        check_scorer("my_package.scores:Shouting", settings={"threshold": 3})

A check that fails raises :class:`~mixopt.testing.checks.ContractError` whose one line says
what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from mixopt.errors import MixoptError, error_line
from mixopt.testing.checks import ContractError

__all__ = ["check_scorer"]

_RECORDS = 12  # records per toy domain: a few of each shape, scored in well under a second
# one domain per record format: text, prompt/completion, chat (mixopt.testing.corpus kinds)
_DOMAINS = {"finance": "text", "sql": "prompt/completion", "support": "chat"}


def check_scorer(
    scorer: str | Callable[..., Any],
    *,
    settings: Mapping[str, Any] | None = None,
    model: str | None = None,
    tolerance: float = 1e-9,
) -> None:
    """Check that ``scorer`` (a name as a search space's ``filters`` take it, ``module:attr``,
    or a class or factory) can score a study's domains, as its filters use it.

    Built with ``settings`` as keyword arguments, as mixopt builds it, it must: declare its
    capabilities (``uses_model``, ``needs_instruction``) as bools where it declares them;
    give ``settings()`` as a dict of JSON values that holds every setting it was built with
    (its scores are cached under them); and score a small domain of each record format
    (text, prompt/completion, chat; text is skipped where it declares
    ``needs_instruction``) with one finite number per record, the same numbers twice.
    ``model``: a small local model folder (as ``--model`` takes it), required for a scorer
    that declares ``uses_model``; its tokenizer tokenizes the domains (without a model, a
    small one is trained on them). Takes seconds.
    """
    name, factory = _resolve(scorer)
    given = dict(settings or {})
    built = _build(factory, name, given)
    uses_model, needs_instruction = _capabilities(built, name)
    if uses_model and model is None:
        raise ValueError(
            f"scorer {name!r} declares uses_model: give check_scorer a small local model "
            "(model=PATH), which it reads"
        )
    _check_settings(built, _build(factory, name, given), name, given)
    with tempfile.TemporaryDirectory() as cache:
        tokenizer = _tokenizer(model)
        for domain, shape in _DOMAINS.items():
            if shape == "text" and needs_instruction:
                continue  # mixopt refuses it on text domains before the study starts
            data = _domain(domain, tokenizer, cache)
            first = _score(built, name, data, model, tokenizer, shape, needs_instruction)
            twin = _build(factory, name, given)
            again = _score(twin, name, data, model, tokenizer, shape, needs_instruction)
            _same_scores(first, again, name, shape, tolerance)


def _resolve(scorer: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    from mixopt.scorers import SCORERS

    if isinstance(scorer, str):
        try:
            return scorer, SCORERS.get(scorer)
        except MixoptError as exc:
            raise ContractError(exc.problems[0]) from None  # it names the scorer
    if not callable(scorer):
        raise ContractError(
            f"scorer {scorer!r} is not a class or factory; give one that takes the settings "
            "as keyword arguments"
        )
    return str(getattr(scorer, "__qualname__", scorer)), scorer


def _build(factory: Callable[..., Any], name: str, settings: Mapping[str, Any]) -> Any:
    try:
        built = factory(**settings)
    except Exception as exc:
        raise ContractError(
            f"scorer {name!r}: building it with {dict(settings)} raised {error_line(exc)}; "
            "mixopt builds it with the filter's settings as keyword arguments"
        ) from exc
    for method in ("settings", "score"):
        if not callable(getattr(built, method, None)):
            raise ContractError(
                f"scorer {name!r}: its {type(built).__name__} has no {method}() method; "
                "a scorer has settings() and score(data) (mixopt.scorers.Scorer)"
            )
    return built


def _capabilities(built: Any, name: str) -> tuple[bool, bool]:
    out = []
    for flag in ("uses_model", "needs_instruction"):
        value = getattr(built, flag, False)
        if not isinstance(value, bool):
            raise ContractError(
                f"scorer {name!r}: {flag} is {value!r}, not a bool; declare it as a class "
                f"attribute, {flag} = True or False"
            )
        out.append(value)
    return out[0], out[1]


def _check_settings(built: Any, twin: Any, name: str, given: Mapping[str, Any]) -> None:
    own = built.settings()
    if not isinstance(own, Mapping):
        raise ContractError(
            f"scorer {name!r}: settings() returned {type(own).__name__}, not a dict; return "
            "every setting that changes its scores"
        )
    try:
        json.dumps(own, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"scorer {name!r}: settings() is not JSON ({error_line(exc)}); it is part of the "
            "cache key: give numbers, strings, lists and dicts"
        ) from exc
    missing = [k for k in given if k not in own]
    if missing:
        raise ContractError(
            f"scorer {name!r}: settings() leaves out {missing[0]!r}, which it was built with; "
            "a study that changes it would read scores cached under the old value"
        )
    if twin.settings() != own:
        raise ContractError(
            f"scorer {name!r}: settings() differs between two scorers built alike "
            f"({own} and {twin.settings()}); keep in it only what the settings decide"
        )


def _tokenizer(model: str | None) -> Any:
    from mixopt.models import load_tokenizer
    from mixopt.testing.corpus import make_records
    from mixopt.testing.tokenizer import build_tokenizer

    if model is not None:
        return load_tokenizer(model)
    texts = [json.dumps(r) for kind in _DOMAINS for r in make_records(kind, _RECORDS)]
    return build_tokenizer(texts, vocab_size=512)


def _domain(kind: str, tokenizer: Any, cache: str) -> Any:
    from mixopt.data.spec import DomainSpec
    from mixopt.data.tokenize import tokenize_domain
    from mixopt.testing.corpus import make_records

    records = tuple(make_records(kind, _RECORDS, seed=1))
    return tokenize_domain(DomainSpec(kind, data=records), tokenizer, cache_dir=cache)


def _score(
    built: Any,
    name: str,
    domain: Any,
    model: str | None,
    tokenizer: Any,
    shape: str,
    needs_instruction: bool,
) -> list[float]:
    from mixopt.scorers import ScoreInput

    try:
        scores = built.score(ScoreInput(domain, model, tokenizer))
        values = [float(v) for v in scores]
    except Exception as exc:
        hint = "" if needs_instruction or shape != "text" else " (declare needs_instruction?)"
        raise ContractError(
            f"scorer {name!r} raised {error_line(exc)} on {shape} records{hint}; it must "
            "score every record of a domain it takes"
        ) from exc
    if len(values) != domain.num_records or not all(math.isfinite(v) for v in values):
        raise ContractError(
            f"scorer {name!r} gave {len(values)} scores for {domain.num_records} {shape} "
            f"records{'' if all(map(math.isfinite, values)) else ', not all finite'}; give one "
            "finite number per record, in the domain's order"
        )
    return values


def _same_scores(
    first: list[float], again: list[float], name: str, shape: str, tolerance: float
) -> None:
    for n, (a, b) in enumerate(zip(first, again, strict=True)):
        if not math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance):
            raise ContractError(
                f"scorer {name!r} is not deterministic: {shape} record {n} scored {a!r}, then "
                f"{b!r}; scores are cached, so seed any sampling and fix the data's order"
            )
