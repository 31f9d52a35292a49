from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# library caches (datasets' parsed files, lm-eval's) go to a throwaway folder, not ~/.cache;
# set before anything imports datasets, which reads them once
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="mixopt-tests-hf-"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's ~/.cache/mixopt."""
    monkeypatch.setenv("MIXOPT_CACHE_DIR", str(tmp_path_factory.mktemp("mixopt-cache")))


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small byte-level BPE tokenizer (with a chat template) trained on the synthetic kinds."""
    from mixopt.testing import DOMAIN_KINDS, build_tokenizer, make_records

    texts = []
    for kind in DOMAIN_KINDS:
        for r in make_records(kind, 200, seed=99):
            texts.append(r.get("text") or r.get("prompt", "") + r.get("completion", "") or str(r))
    out = tmp_path_factory.mktemp("tokenizer")
    build_tokenizer(texts, out, vocab_size=512)
    return out


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path):  # type: ignore[no-untyped-def]
    from mixopt.models import load_tokenizer

    return load_tokenizer(str(tokenizer_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pre-trained Llama (about 10 s to build): the real model every training test uses."""
    from mixopt.testing.tiny_model import TinyModelConfig, build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-model"), TinyModelConfig(pretrain_tokens=150_000)
    )


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    """(model, tokenizer), loaded once; tests must not train it (copy it first)."""
    from mixopt.models import load_model, load_tokenizer

    return load_model(str(tiny_model_dir)), load_tokenizer(str(tiny_model_dir))
