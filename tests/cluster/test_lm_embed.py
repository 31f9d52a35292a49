"""The ``model`` embedding: mean-pooled last hidden states of a local causal LM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixopt.cluster.embeddings import cached_embeddings
from mixopt.cluster.lm_embed import ModelEmbedder
from mixopt.testing import make_records

TEXTS = [r["text"] for kind in ("finance", "cooking") for r in make_records(kind, 3, seed=2)]


def test_one_vector_per_record_the_same_every_time(tiny_model_dir: Path) -> None:
    from transformers import AutoConfig

    hidden = AutoConfig.from_pretrained(tiny_model_dir).hidden_size
    embedder = ModelEmbedder(str(tiny_model_dir))
    x = embedder.embed(TEXTS)
    assert x.shape == (len(TEXTS), hidden) and x.dtype == np.float32
    assert np.isfinite(x).all() and len(np.unique(x, axis=0)) == len(TEXTS)
    np.testing.assert_array_equal(embedder.embed(TEXTS), x)


def test_padding_in_a_batch_does_not_change_a_record(tiny_model_dir: Path) -> None:
    embedder = ModelEmbedder(str(tiny_model_dir))
    short, long = "stocks fell", " ".join(TEXTS)
    alone = embedder.embed([short])[0]
    padded = embedder.embed([short, long])[0]  # padded to the long record's length
    np.testing.assert_allclose(padded, alone, rtol=1e-4, atol=1e-5)


def test_a_second_call_reads_the_cache(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = ModelEmbedder(str(tiny_model_dir))
    first, cached = cached_embeddings(embedder, TEXTS, tmp_path)
    assert not cached and len(list((tmp_path / "embeddings").rglob("*.npy"))) == 1

    def no_model(texts: object) -> None:
        raise AssertionError("embedded again instead of reading the cache")

    monkeypatch.setattr(ModelEmbedder, "embed", no_model)
    again, cached = cached_embeddings(ModelEmbedder(str(tiny_model_dir)), TEXTS, tmp_path)
    np.testing.assert_array_equal(again, first)
    assert cached
