"""Batched language-model primitives the built-in tasks share: log-likelihoods, the mean
token loss over tokenized records, and greedy generation, all under ``torch.inference_mode()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["generate", "loglikelihoods", "model_device", "token_loss"]


def model_device(model: Any) -> Any:
    return next(model.parameters()).device


def loglikelihoods(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    batch_size: int = 16,
    max_length: int = 2048,
    add_eos: bool = False,
) -> list[tuple[float, int]]:
    """For each (context, continuation): the summed log-probability of the continuation's
    tokens given the context, and how many tokens that is.

    Context and continuation are tokenized apart (the context with the tokenizer's special
    tokens), so the continuation's tokens are the same whatever precedes them. Pairs run in
    batches of similar length, right-padded.
    """
    import torch

    eos = tokenizer.eos_token_id
    encoded = []
    for ctx, cont in pairs:
        c = tokenizer(ctx, add_special_tokens=True, verbose=False)["input_ids"]  # "" gives just BOS
        t = tokenizer(cont, add_special_tokens=False, verbose=False)["input_ids"]
        if add_eos and eos is not None:
            t = [*t, eos]
        ids = (c + t)[-max_length:]  # keep the continuation whole; cut the context from the left
        encoded.append((ids, min(len(t), len(ids) - 1)))
    device = model_device(model)
    out: list[tuple[float, int]] = [(0.0, 0)] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encoded[i][0]) for i in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            attn = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                seq = encoded[i][0]
                ids[r, : len(seq)] = torch.tensor(seq)
                attn[r, : len(seq)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for r, i in enumerate(rows):
                seq, n = encoded[i]
                if n <= 0:
                    continue
                positions = torch.arange(len(seq) - n - 1, len(seq) - 1, device=logprobs.device)
                targets = torch.tensor(seq[len(seq) - n :], device=logprobs.device)
                out[i] = (float(logprobs[r, positions, targets].sum()), n)
    return out


def token_loss(model: Any, table: Any, max_length: int, batch_size: int = 16) -> tuple[float, int]:
    """(mean loss, tokens scored) of a model over a token table's records (columns ``input_ids``
    and, for masked formats, ``loss_mask``), each cut to its first ``max_length`` tokens."""
    import torch

    ids = [list(r)[:max_length] for r in table.column("input_ids").to_pylist()]
    masks = (
        [list(m)[:max_length] for m in table.column("loss_mask").to_pylist()]
        if "loss_mask" in table.column_names
        else [[1] * len(r) for r in ids]
    )
    device, total, count = model_device(model), 0.0, 0
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            x = torch.zeros((len(rows), width), dtype=torch.long)
            scored = torch.zeros((len(rows), width), dtype=torch.bool)
            for r, i in enumerate(rows):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                # the first token has no context
                scored[r, 1 : len(ids[i])] = torch.tensor(masks[i][1:], dtype=torch.bool)
            attn = (
                torch.arange(width)[None, :] < torch.tensor([len(ids[i]) for i in rows])[:, None]
            ).long()
            logits = model(input_ids=x.to(device), attention_mask=attn.to(device)).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            target = x[:, 1:].to(logprobs.device)
            picked = logprobs.gather(-1, target[..., None])[..., 0]
            keep = scored[:, 1:].to(logprobs.device)
            total -= float(picked[keep].sum())
            count += int(keep.sum())
    return total / max(1, count), count


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    stop: Sequence[str] = (),
    batch_size: int = 16,
) -> list[str]:
    """Greedy continuations of ``prompts``, each cut at the first stop string."""
    import torch

    device = model_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    texts: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            enc = tokenizer(
                [prompts[i] for i in rows],
                padding=True,
                padding_side="left",
                return_tensors="pt",
                verbose=False,
            )
            out = model.generate(
                input_ids=enc["input_ids"].to(device),
                attention_mask=enc["attention_mask"].to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            for r, i in enumerate(rows):
                texts[i] = _cut(tokenizer.decode(new[r], skip_special_tokens=True), stop)
    return texts


def _cut(text: str, stop: Sequence[str]) -> str:
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
    return text
