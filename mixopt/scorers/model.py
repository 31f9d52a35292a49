"""Scorers that read the base model's loss on each record's cached tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mixopt.errors import ConfigError
from mixopt.scorers._base import ScoreInput

__all__ = ["InstructionFollowingDifficulty", "Length", "Perplexity", "token_losses"]

_BATCH = 16  # records per forward pass: the tiny models score ~thousands of records a second


class Length:
    """Tokens in the record as trained (prompt, response and separators), read from the cache.

    Data-Juicer's ``token_num_filter`` (``data_juicer/ops/filter/token_num_filter.py``, stat
    ``num_token``) counts the tokens of the text with a tokenizer; this counts the study's
    own tokens of the record, so the filter and the budget speak of the same tokens.
    """

    uses_model = False
    needs_instruction = False

    def settings(self) -> dict[str, Any]:
        return {}

    def score(self, data: ScoreInput) -> Sequence[float]:
        return [float(n) for n in data.domain.lengths()]


class _ModelLoss:
    """A scorer of the base model's token losses on each record's first ``max_length`` tokens."""

    uses_model = True
    needs_instruction = False

    def __init__(self, max_length: int = 512) -> None:
        self.max_length = int(max_length)

    def settings(self) -> dict[str, Any]:
        return {"max_length": self.max_length}


class Perplexity(_ModelLoss):
    """Perplexity of the record under the study's base model: exp(mean token loss).

    As Data-Juicer's ``llm_perplexity_filter`` (``data_juicer/ops/filter/
    llm_perplexity_filter.py``, stat ``llm_perplexity`` = exp of the causal LM's mean
    cross-entropy over the sample's tokens), with the study's model and cached tokens (the
    KenLM ``perplexity_filter`` downloads its models, so it is not offered). Records longer
    than ``max_length`` tokens are scored on their first ``max_length``.
    """

    def score(self, data: ScoreInput) -> Sequence[float]:
        ids = _column(data, "input_ids")
        rows: list[tuple[list[int], list[int] | None]] = [(list(r), None) for r in ids]
        full = token_losses(data, rows, self.max_length)
        return [math.exp(min(loss, 50.0)) for loss in full]


class InstructionFollowingDifficulty(_ModelLoss):
    """Instruction-following difficulty: loss(response | prompt) / loss(response alone).

    As Data-Juicer's ``instruction_following_difficulty_filter`` (``data_juicer/ops/filter/
    instruction_following_difficulty_filter.py``, stat ``ifd_score`` = loss(A|Q) / loss(A),
    the mean token losses of the response A with and without its query Q; Cherry LLM, Li et
    al. 2024). The response is the record's trained tokens (the completion, or the assistant
    turns of a chat): scored once after the prompt, once alone after the BOS token. Near 1:
    the prompt does not help predict the response (it does not answer it); low: it does.
    Text records have no prompt and are refused.
    """

    needs_instruction = True

    def score(self, data: ScoreInput) -> Sequence[float]:
        if data.domain.format == "text":
            raise ConfigError(
                f"ifd: domain {data.domain.name!r} holds text records, which have no prompt to "
                "condition on; score it with another scorer or filter ifd on other domains only"
            )
        ids, masks = _column(data, "input_ids"), _column(data, "loss_mask")
        bos = _bos(data)
        given = token_losses(
            data, [(list(i), list(m)) for i, m in zip(ids, masks, strict=True)], self.max_length
        )
        alone_rows: list[tuple[list[int], list[int] | None]] = [
            ([*bos, *(t for t, k in zip(i, m, strict=True) if k)], None)
            for i, m in zip(ids, masks, strict=True)
        ]
        alone = token_losses(data, alone_rows, self.max_length)
        return [g / a if a > 0 else 0.0 for g, a in zip(given, alone, strict=True)]


def _column(data: ScoreInput, name: str) -> list[list[int]]:
    column: list[list[int]] = data.domain.table().column(name).to_pylist()
    return column


def _bos(data: ScoreInput) -> list[int]:
    from mixopt.models import load_tokenizer

    assert data.model is not None
    tok = data.tokenizer or load_tokenizer(data.model)
    return [] if tok.bos_token_id is None else [int(tok.bos_token_id)]


def token_losses(
    data: ScoreInput, rows: list[tuple[list[int], list[int] | None]], max_length: int
) -> list[float]:
    """Mean next-token loss of each row under the base model, over the tokens its mask marks
    (all but the first when the mask is None); 0 for a row with no such token."""
    import torch

    from mixopt.models import load_model

    if data.model is None:
        raise ConfigError("a model scorer needs the study's base model")
    model = load_model(data.model).eval()
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(rows), _BATCH):
            batch = [
                (ids[:max_length], None if m is None else m[:max_length])
                for ids, m in rows[start : start + _BATCH]
            ]
            width = max(2, *(len(ids) for ids, _ in batch))
            ids_t = torch.zeros(len(batch), width, dtype=torch.long)
            attn = torch.zeros(len(batch), width, dtype=torch.long)
            want = torch.zeros(len(batch), width, dtype=torch.bool)
            for r, (ids, mask) in enumerate(batch):
                ids_t[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                attn[r, : len(ids)] = 1
                want[r, 1 : len(ids)] = (
                    True if mask is None else torch.tensor(mask[1:], dtype=torch.bool)
                )
            logits = model(input_ids=ids_t, attention_mask=attn).logits[:, :-1].float()
            loss = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), ids_t[:, 1:], reduction="none"
            )
            keep = want[:, 1:].float()
            mean = (loss * keep).sum(1) / keep.sum(1).clamp(min=1)
            out.extend(float(v) for v in mean)
    return out
