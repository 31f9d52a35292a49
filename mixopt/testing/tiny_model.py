"""A tiny Llama-style model, pre-trained briefly on local synthetic text, saved as an ordinary
transformers folder (safetensors weights + tokenizer). For tests and the offline demo."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mixopt.io import file_mode
from mixopt.testing.corpus import DOMAIN_KINDS, make_records
from mixopt.testing.tokenizer import build_tokenizer

__all__ = ["TinyModelConfig", "build_tiny_model", "render_text"]


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
    out_dir: str | Path, config: TinyModelConfig | None = None, texts: Iterable[str] | None = None
) -> Path:
    """Train a tokenizer and pre-train a small Llama on ``texts`` (default: every synthetic kind);
    save both to ``out_dir`` and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or TinyModelConfig()
    out = Path(out_dir)
    corpus = list(texts) if texts is not None else _default_corpus(cfg)
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
    _pretrain(model, tokenizer, corpus, cfg)
    model.config.mixopt_tiny = asdict(cfg)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    for path in out.iterdir():  # safetensors writes its file 0600; the folder's others follow umask
        if path.is_file():
            path.chmod(file_mode())
    return out


def _default_corpus(cfg: TinyModelConfig) -> list[str]:
    # every kind but the per-database SQL ones: those stay unseen, so a demo can fine-tune on
    # some databases and measure generalization to another (out of domain, truly)
    kinds = [k for k in DOMAIN_KINDS if not k.startswith("sql_")]
    texts = [
        render_text(r) for kind in kinds for r in make_records(kind, 3000, seed=cfg.seed + 1000)
    ]
    random.Random(cfg.seed).shuffle(texts)
    return texts


def _pretrain(model: Any, tokenizer: Any, corpus: Sequence[str], cfg: TinyModelConfig) -> None:
    import torch

    eos = tokenizer.eos_token_id
    stream = [t for ids in tokenizer(list(corpus), verbose=False)["input_ids"] for t in (*ids, eos)]
    n_seq = len(stream) // cfg.seq_len
    data = torch.tensor(stream[: n_seq * cfg.seq_len]).view(n_seq, cfg.seq_len)
    steps = max(1, cfg.pretrain_tokens // (cfg.batch_size * cfg.seq_len))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    gen = torch.Generator().manual_seed(cfg.seed)
    model.train()
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
    model.eval()
