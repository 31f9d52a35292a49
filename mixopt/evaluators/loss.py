"""``loss``: negative mean token loss on held-out text, the cheap proxy score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from mixopt.errors import ConfigError
from mixopt.evaluators._base import EvalResult
from mixopt.evaluators._data import read_records, require_fields
from mixopt.evaluators._lm import loglikelihoods

__all__ = ["LossTask"]


@dataclass(frozen=True)
class LossTask:
    """Held-out loss: text records (all tokens scored) or prompt/completion records
    (completion tokens scored). Score: the negative mean token loss (higher is better)."""

    score_scale: ClassVar[str] = "negative loss"  # see EvalSuite: scales are never mixed silently

    data: str
    """JSONL file of records."""
    text_field: str = "text"
    """Field of text records."""
    prompt_field: str = "prompt"
    """Field of the (unscored) prompt, for prompt/completion records."""
    completion_field: str = "completion"
    """Field of the scored completion."""
    limit: int | None = None
    """Use only the first N records."""
    batch_size: int = 16
    """Records per forward pass."""
    max_length: int = 2048
    """Longer records are cut from the left."""

    def _pairs(self) -> list[tuple[str, str]]:
        records = read_records(self.data, self.limit)
        if all(self.text_field in r for r in records):
            return [("", str(r[self.text_field])) for r in records]
        fields = {
            self.prompt_field: "text_field (text records) or prompt_field",
            self.completion_field: "completion_field",
        }
        require_fields(records, fields, f"{self.data}")
        return [(str(r[self.prompt_field]), str(r[self.completion_field])) for r in records]

    def check(self) -> None:
        """Read and check the data (raises :class:`ConfigError`)."""
        pairs = self._pairs()
        if not any(cont for _, cont in pairs):
            raise ConfigError(f"{self.data}: every scored text is empty")

    def evaluate(self, model: Any, tokenizer: Any) -> EvalResult:
        scored = loglikelihoods(
            model, tokenizer, self._pairs(), self.batch_size, self.max_length, add_eos=True
        )
        tokens = sum(n for _, n in scored)
        loss = -sum(lp for lp, _ in scored) / max(1, tokens)
        return EvalResult(
            -loss, {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": float(tokens)}
        )
