"""``exact_match``: greedy generation compared with the reference answer."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from mixopt.evaluators._base import EvalResult
from mixopt.evaluators._data import fill_template, named_fields, read_records, require_fields
from mixopt.evaluators._lm import generate

__all__ = ["ExactMatchTask", "normalize_answer"]

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, collapse white space (the SQuAD-style normalization)."""
    return re.sub(r"\s+", " ", text.lower().translate(_PUNCT)).strip()


@dataclass(frozen=True)
class ExactMatchTask:
    """Greedy generation after the prompt, cut at the first stop string and compared with the
    answer (or any of a list of answers). Score: exact-match rate."""

    score_scale: ClassVar[str] = "fraction"  # see EvalSuite: scales are never mixed silently

    data: str
    """JSONL file: a prompt (or the fields of ``template``) and ``answer``."""
    prompt_field: str = "prompt"
    template: str | None = None
    """``str.format`` template over the record's fields."""
    answer_field: str = "answer"
    """The reference: a string or a list of acceptable strings."""
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    """Generation is cut at the first of these."""
    normalize: bool = True
    """Compare after :func:`normalize_answer`; else after stripping white space only."""
    limit: int | None = None
    batch_size: int = 16

    def _items(self) -> list[tuple[str, list[str]]]:
        records = read_records(self.data, self.limit)
        fields = {
            **named_fields(self.template, self.prompt_field),
            self.answer_field: "answer_field",
        }
        require_fields(records, fields, self.data)
        out = []
        for r in records:
            answers = r[self.answer_field]
            out.append(
                (
                    fill_template(self.template, r, self.prompt_field),
                    [str(a) for a in (answers if isinstance(answers, list) else [answers])],
                )
            )
        return out

    def check(self) -> None:
        self._items()

    def matches(self, prediction: str, answers: Sequence[str]) -> bool:
        norm = normalize_answer if self.normalize else str.strip
        return norm(prediction) in {norm(a) for a in answers}

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        items = self._items()
        preds = generate(
            model, tokenizer, [p for p, _ in items], self.max_new_tokens, self.stop, self.batch_size
        )
        rate = sum(self.matches(p, a) for p, (_, a) in zip(preds, items, strict=True)) / len(items)
        return EvalResult(rate, {"exact_match": rate, "items": float(len(items))})
