"""What a scorer is: one number per record of a domain, from its text or its cached tokens.

A scorer needs no base class; anything with these attributes and one method will do::

    class Shouting:
        uses_model = False          # True: ScoreInput.model is the study's base model
        needs_instruction = False   # True: refuses text records (they have no prompt)

        def settings(self) -> dict: return {}
        def score(self, data: ScoreInput) -> list[float]:
            return [sum(c.isupper() for c in t) / max(1, len(t)) for t in data.texts()]

Scores are a pure function of the domain's content, the scorer, its settings and (for
``uses_model``) the model, so they are computed once and cached (:mod:`mixopt.scorers.cache`).
Register one as ``module:attr`` (in a search space's ``filters``) or under the
``mixopt.scorers`` entry-point group; :func:`mixopt.testing.check_scorer` checks it as a
study uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mixopt.data.tokenize import TokenizedDomain

__all__ = ["ScoreInput", "Scorer"]


@runtime_checkable
class Scorer(Protocol):
    """Scores every record of a domain (higher or lower is better: the filter says which).

    Built by calling the registered class or factory with the filter's settings as keyword
    arguments (a constructor only stores; a bad setting raises ``TypeError``). ``score``
    must return one finite number per record, in the domain's record order, the same ones
    each time (they are cached); ``settings()`` must hold every setting that changes them,
    as JSON values (they are part of the cache key).

    Capabilities, declared as class attributes (both False where left out): ``uses_model``
    (it reads the study's base model, ``ScoreInput.model``, which then joins the cache key)
    and ``needs_instruction`` (it needs a prompt to condition on, so text-only domains are
    refused before the study starts).
    """

    def settings(self) -> dict[str, Any]:
        """What changes its scores (part of the cache key)."""

    def score(self, data: ScoreInput) -> Sequence[float]:
        """One finite number per record, in the domain's record order."""


@dataclass(frozen=True)
class ScoreInput:
    """One domain as a scorer reads it: the records as trained (text) or their cached tokens."""

    domain: TokenizedDomain
    """The tokenized domain: ``table()`` has ``input_ids``, ``length`` and, for prompt/
    completion and chat records, ``loss_mask`` (1 on the tokens trained on: the response)."""
    model: str | None = None
    """The study's base model (a hub id or local folder), for scorers that use one."""
    tokenizer: Any = None
    """The study's tokenizer (renders chat records as trained)."""
    _texts: list[list[str]] = field(default_factory=list, repr=False, compare=False)

    def texts(self) -> list[str]:
        """Each record rendered as it is trained on (prompt and response together)."""
        if not self._texts:
            from mixopt.data.formats import render_batch
            from mixopt.data.sources import load_records

            records = load_records(self.domain.spec)
            out: list[str] = []
            for start in range(0, len(records), 1000):
                batch = records[start : start + 1000]
                out.extend(
                    render_batch(
                        self.domain.spec, self.domain.format, batch, start, self.tokenizer
                    )[0]
                )
            self._texts.append(out)
        return self._texts[0]
