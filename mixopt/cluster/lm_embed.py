"""Embeddings from models: a local causal LM's mean-pooled hidden states, or a local
sentence-transformers model (the optional ``cluster-st`` extra)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixopt.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ModelEmbedder", "SentenceTransformerEmbedder", "sentence_transformer"]

_BATCH = 32
_MAX_TOKENS = 256  # a record's first 256 tokens say what kind of text it is


class ModelEmbedder:
    """Mean of the last hidden states over a record's tokens, under ``torch.inference_mode``."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model, self.device = model, device

    def fingerprint(self) -> str:
        from mixopt.models import resolve_reference

        return f"model:{_folder_digest(resolve_reference(self.model))}:max={_MAX_TOKENS}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        import torch

        from mixopt.models import load_model, load_tokenizer

        tokenizer = load_tokenizer(self.model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = load_model(self.model, device=self.device).eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), _BATCH):
                enc = tokenizer(
                    list(texts[start : start + _BATCH]),
                    padding=True,
                    truncation=True,
                    max_length=_MAX_TOKENS,
                    return_tensors="pt",
                ).to(self.device)
                hidden = model(**enc, output_hidden_states=True).hidden_states[-1]
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(pooled.float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model's normalized sentence embeddings."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fingerprint(self) -> str:
        return f"sentence-transformers:{_folder_digest(self.path)}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.path, device="cpu")
        vectors = model.encode(list(texts), batch_size=_BATCH, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def sentence_transformer(path: str) -> SentenceTransformerEmbedder:
    """The embedder for ``sentence-transformers:PATH``; a one-line error when the package or
    the folder is missing (nothing is downloaded)."""
    import importlib.util

    if importlib.util.find_spec("sentence_transformers") is None:
        raise ConfigError(
            "embedding 'sentence-transformers:PATH' needs the sentence-transformers package: "
            "pip install 'mixopt[cluster-st]'"
        )
    if not Path(path).expanduser().is_dir():
        raise ConfigError(f"sentence-transformers model {path!r}: no such local folder")
    return SentenceTransformerEmbedder(str(Path(path).expanduser().resolve()))


def _folder_digest(folder: str) -> str:
    """A digest of a model folder's files (weights, config, tokenizer): its content, not its name."""
    h = hashlib.sha256()
    root = Path(folder)
    if not root.is_dir():  # a hub id: its name and revision stand for its content
        return folder
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()
