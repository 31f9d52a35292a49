"""A tiny Llama-style model, pre-trained briefly on local synthetic text, saved as an ordinary
transformers folder (safetensors weights + tokenizer). For tests and the offline demo."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mixopt.io import file_mode
from mixopt.testing.corpus import DOMAIN_KINDS, make_records
from mixopt.testing.tokenizer import build_tokenizer

__all__ = ["TinyModelConfig", "build_tiny_model", "domains_corpus", "render_text"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class TinyModelConfig:
    """Size and pre-training of the tiny model."""

    vocab_size: int = 1024
    """BPE vocabulary (byte-level, so nothing is out of vocabulary)."""
    hidden_size: int = 96
    """Width of the residual stream."""
    num_layers: int = 3
    """Transformer blocks."""
    num_heads: int = 4
    """Attention heads (2 key/value heads: grouped-query attention, as in current Llamas)."""
    seq_len: int = 128
    """Pre-training sequence length (positions are RoPE: longer works at fine-tune time)."""
    pretrain_tokens: int = 400_000
    """Tokens of pre-training on the mixed synthetic corpus."""
    batch_size: int = 16
    """Sequences per pre-training step."""
    learning_rate: float = 3e-3
    """Peak learning rate (cosine decay to 10%)."""
    seed: int = 0
    """Seed for the corpus, the initialization and the batch order."""


def render_text(record: dict[str, Any]) -> str:
    """One record of any synthetic kind as plain text (for tokenizer and pre-training corpora)."""
    if "text" in record:
        return str(record["text"])
    if "prompt" in record:
        return f"{record['prompt']}{record['completion']}"
    return "\n".join(f"{m['role']}: {m['content']}" for m in record["messages"])


def build_tiny_model(
    out_dir: str | Path,
    config: TinyModelConfig | None = None,
    texts: Iterable[str] | None = None,
    say: Say | None = None,
) -> Path:
    """Train a tokenizer and pre-train a small Llama on ``texts`` (default: every synthetic kind);
    save both to ``out_dir`` and return it. ``say``: told each step, the pre-training's expected
    time (measured on its first steps) and its progress every 10 seconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or TinyModelConfig()
    out = Path(out_dir)
    corpus = list(texts) if texts is not None else _default_corpus(cfg)
    tell = say or (lambda _line: None)
    tell(f"training a {cfg.vocab_size}-token BPE tokenizer on {len(corpus):,} texts")
    tokenizer = build_tokenizer(corpus, vocab_size=cfg.vocab_size)
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=cfg.hidden_size,
            intermediate_size=cfg.hidden_size * 4,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )
    _pretrain(model, tokenizer, corpus, cfg, tell)
    model.config.mixopt_tiny = asdict(cfg)
    _save_quietly(model, tokenizer, out)
    for path in out.iterdir():  # safetensors writes its file 0600; the folder's others follow umask
        if path.is_file():
            path.chmod(file_mode())
    return out


def _save_quietly(model: Any, tokenizer: Any, out: Path) -> None:
    """Save without transformers' progress bar (it outlives the line it follows)."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(str(out), safe_serialization=True)
        tokenizer.save_pretrained(str(out))
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def domains_corpus(path: str | Path, seed: int = 0) -> list[str]:
    """Every record of a domains file as plain text, shuffled: a chat as ``role: content``
    lines, a prompt and its completion joined. For a tiny model of the user's own text."""
    from mixopt.data.formats import resolve_format
    from mixopt.data.sources import load_records
    from mixopt.data.spec import load_domains

    texts = []
    for spec in load_domains(path):
        ds = load_records(spec)
        fmt = resolve_format(spec, ds.column_names)
        for r in ds:
            if fmt == "text":
                texts.append(str(r[spec.text_field]))
            elif fmt == "prompt_completion":
                texts.append(f"{r[spec.prompt_field] or ''}{r[spec.completion_field]}")
            else:
                turns = r[spec.messages_field]
                texts.append("\n".join(f"{m['role']}: {m['content']}" for m in turns))
    random.Random(seed).shuffle(texts)
    return [t for t in texts if t.strip()]


def _default_corpus(cfg: TinyModelConfig) -> list[str]:
    # every kind but the per-database SQL ones: those stay unseen, so a demo can fine-tune on
    # some databases and measure generalization to another (out of domain, truly)
    kinds = [k for k in DOMAIN_KINDS if not k.startswith("sql_")]
    texts = [
        render_text(r) for kind in kinds for r in make_records(kind, 3000, seed=cfg.seed + 1000)
    ]
    random.Random(cfg.seed).shuffle(texts)
    return texts


def _pretrain(
    model: Any, tokenizer: Any, corpus: Sequence[str], cfg: TinyModelConfig, say: Say
) -> None:
    import torch

    eos = tokenizer.eos_token_id
    stream = [t for ids in tokenizer(list(corpus), verbose=False)["input_ids"] for t in (*ids, eos)]
    n_seq = len(stream) // cfg.seq_len
    if n_seq < 1:
        from mixopt.errors import ConfigError

        raise ConfigError(
            f"the corpus holds {len(stream):,} tokens, fewer than one {cfg.seq_len}-token sequence"
        )
    data = torch.tensor(stream[: n_seq * cfg.seq_len]).view(n_seq, cfg.seq_len)
    steps = max(1, cfg.pretrain_tokens // (cfg.batch_size * cfg.seq_len))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    gen = torch.Generator().manual_seed(cfg.seed)
    model.train()
    clock = _Clock(steps, say)
    for step in range(steps):
        # cosine from the peak to 10% of it, after a 5% warm-up
        warm = max(1, steps // 20)
        scale = (
            (step + 1) / warm
            if step < warm
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (step - warm) / (steps - warm)))
        )
        for group in opt.param_groups:
            group["lr"] = cfg.learning_rate * scale
        batch = data[torch.randint(0, n_seq, (cfg.batch_size,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        clock.tick(step + 1, loss.item())
    model.eval()


class _Clock:
    """The pre-training's expected time, from its first steps' pace on this machine as it is
    now, then a progress line every 10 seconds."""

    FIRST, EVERY = 5, 10.0

    def __init__(self, steps: int, say: Say) -> None:
        self.steps, self.say = steps, say
        self.start = self.last = time.monotonic()

    def tick(self, done: int, loss: float) -> None:
        now = time.monotonic()
        pace = (now - self.start) / done
        if done == min(self.FIRST, self.steps):
            steps = f"{self.steps:,} step{'s' * (self.steps != 1)}"
            first = "step" if done == 1 else f"{done} steps"
            self.say(
                f"pre-training: {steps}, about {_duration(pace * self.steps)} at this machine's "
                f"pace now (its first {first}; slower while other work shares it)"
            )
            self.last = now
        elif done > self.FIRST and now - self.last >= self.EVERY and done < self.steps:
            left = _duration(pace * (self.steps - done))
            self.say(
                f"pre-training: step {done:,}/{self.steps:,} ({done / self.steps:.0%}), "
                f"loss {loss:.2f}, about {left} left"
            )
            self.last = now


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
