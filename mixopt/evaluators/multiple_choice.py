"""``multiple_choice``: pick the choice the model finds most likely after the prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mixopt.errors import ConfigError
from mixopt.evaluators._base import EvalResult
from mixopt.evaluators._data import fill_template, named_fields, read_records, require_fields
from mixopt.evaluators._lm import loglikelihoods

__all__ = ["MultipleChoiceTask"]


@dataclass(frozen=True)
class MultipleChoiceTask:
    """Log-likelihood scoring of each choice given the prompt. Score: accuracy. Also reports
    length-normalized accuracy (log-likelihood per character of the choice), which does not
    favour short choices."""

    score_scale: ClassVar[str] = "fraction"  # see EvalSuite: scales are never mixed silently

    data: str
    """JSONL file: a prompt (or the fields of ``template``), ``choices`` and ``answer``."""
    prompt_field: str = "question"
    """Field holding the prompt (when there is no template)."""
    template: str | None = None
    """``str.format`` template over the record's fields, e.g. ``"Q: {question}\\nA:"``."""
    choices_field: str = "choices"
    """Field holding the list of choices."""
    answer_field: str = "answer"
    """Field holding the right choice: its index, or its text."""
    delimiter: str = " "
    """Put between the prompt and each choice."""
    limit: int | None = None
    batch_size: int = 32

    def _items(self) -> list[tuple[str, list[str], int]]:
        records = read_records(self.data, self.limit)
        fields = {
            **named_fields(self.template, self.prompt_field),
            self.choices_field: "choices_field",
            self.answer_field: "answer_field",
        }
        require_fields(records, fields, self.data)
        items = []
        for i, r in enumerate(records):
            choices = r[self.choices_field]
            if not isinstance(choices, list) or len(choices) < 2:
                raise ConfigError(
                    f"{self.data}: record {i}: {self.choices_field!r} must list two or more choices"
                )
            answer = r[self.answer_field]
            index = (
                choices.index(answer)
                if answer in choices and not isinstance(answer, int)
                else answer
            )
            if not isinstance(index, int) or not 0 <= index < len(choices):
                raise ConfigError(
                    f"{self.data}: record {i}: answer {answer!r} is not one of the choices or their index"
                )
            items.append(
                (
                    fill_template(self.template, r, self.prompt_field),
                    [str(c) for c in choices],
                    index,
                )
            )
        return items

    def check(self) -> None:
        self._items()

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        items = self._items()
        pairs = [(prompt, self.delimiter + c) for prompt, choices, _ in items for c in choices]
        scored = iter(loglikelihoods(model, tokenizer, pairs, self.batch_size))
        right = right_norm = 0
        for _, choices, answer in items:
            lps = [next(scored)[0] for _ in choices]
            norm = [lp / max(1, len(c)) for lp, c in zip(lps, choices, strict=True)]
            right += int(max(range(len(lps)), key=lps.__getitem__) == answer)
            right_norm += int(max(range(len(norm)), key=norm.__getitem__) == answer)
        n = len(items)
        return EvalResult(
            right / n, {"accuracy": right / n, "accuracy_norm": right_norm / n, "items": float(n)}
        )
