from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixopt.data.allocation import uniform_mixture
from mixopt.data.sampling import draw_records, sample_mixture
from mixopt.data.spec import DomainSpec, load_domains
from mixopt.data.tokenize import TokenizedDomain, tokenize_domain, tokenize_domains
from mixopt.errors import InfeasibleMixtureError
from mixopt.testing import write_domains


@pytest.fixture(scope="module")
def domains(
    tmp_path_factory: pytest.TempPathFactory, tokenizer: Any
) -> tuple[TokenizedDomain, ...]:
    root = tmp_path_factory.mktemp("sampling")
    path = write_domains(root, {"finance": "jsonl", "sql": "jsonl", "support": "jsonl"}, n=100)
    return tokenize_domains(load_domains(path), tokenizer, root / "cache")


@settings(max_examples=100, deadline=None)
@given(budget=st.integers(1, 20_000), seed=st.integers(0, 2**32 - 1), w=st.floats(0.05, 0.9))
def test_sample_has_exactly_the_budget_and_the_allocation(
    domains: tuple[TokenizedDomain, ...], budget: int, seed: int, w: float
) -> None:
    mixture = {"finance": w, "sql": (1 - w) / 2, "support": (1 - w) / 2}
    try:
        sample = sample_mixture(domains, mixture, budget, seed)
    except InfeasibleMixtureError:
        assert any(mixture[d.name] * budget > d.capacity for d in domains)
        return
    assert len(sample.input_ids) == len(sample.loss_mask) == budget
    assert {d.name: d.tokens for d in sample.draws} == sample.allocation.tokens
    assert sum(d.tokens for d in sample.draws) == budget


def test_same_seed_same_sample_other_seed_other_sample(
    domains: tuple[TokenizedDomain, ...],
) -> None:
    mix = uniform_mixture(domains)
    a, b = sample_mixture(domains, mix, 5000, seed=3), sample_mixture(domains, mix, 5000, seed=3)
    c = sample_mixture(domains, mix, 5000, seed=4)
    assert np.array_equal(a.input_ids, b.input_ids) and np.array_equal(a.loss_mask, b.loss_mask)
    assert not np.array_equal(a.input_ids, c.input_ids)


def test_a_domain_draw_does_not_depend_on_the_other_domains(
    domains: tuple[TokenizedDomain, ...],
) -> None:
    full = sample_mixture(domains, {"finance": 0.5, "sql": 0.25, "support": 0.25}, 4000, seed=1)
    pair = sample_mixture(domains[:2], {"finance": 0.5, "sql": 0.5}, 4000, seed=1)
    assert np.array_equal(full.draws[0].indices, pair.draws[0].indices)


def test_stream_is_made_of_whole_records_and_one_cut(tokenizer: Any) -> None:
    texts = [f"record number {i} " * (i % 3 + 1) for i in range(20)]
    domain = tokenize_domain(DomainSpec("t", data=tuple({"text": t} for t in texts)), tokenizer)
    budget = domain.num_tokens + 7  # one full pass, then 7 tokens of a second
    sample = sample_mixture([domain], {"t": 1.0}, budget, seed=0)
    (draw,) = sample.draws
    assert draw.epochs == pytest.approx(budget / domain.num_tokens) and draw.records >= 21
    pieces = [
        p.removeprefix("<s>") for p in tokenizer.decode(sample.input_ids.tolist()).split("</s>")
    ]
    whole = [p for p in pieces if p in texts]
    cut = [p for p in pieces if p and p not in texts]
    assert set(whole) == set(texts)  # every record appears: a full pass came first
    assert len(cut) == 1 and any(t.startswith(cut[0]) for t in texts)  # only the last draw is cut
    assert np.all(sample.loss_mask)


def test_repetition_cap_is_enforced(tokenizer: Any) -> None:
    domain = tokenize_domain(
        DomainSpec("t", data=({"text": "a b c d e"},), max_epochs=2.0), tokenizer
    )
    sample_mixture([domain], {"t": 1.0}, domain.capacity, seed=0)
    with pytest.raises(InfeasibleMixtureError, match="max share"):
        sample_mixture([domain], {"t": 1.0}, domain.capacity + 1, seed=0)


def test_loss_mask_follows_the_prompts(domains: tuple[TokenizedDomain, ...]) -> None:
    sample = sample_mixture(domains, {"finance": 0.0, "sql": 1.0, "support": 0.0}, 3000, seed=0)
    assert 0.3 < sample.loss_mask.mean() < 0.8


def test_pack_keeps_every_token_and_masks_padding(domains: tuple[TokenizedDomain, ...]) -> None:
    sample = sample_mixture(domains, uniform_mixture(domains), 1000, seed=0)
    packed = sample.pack(128, pad_id=0)
    assert packed.input_ids.shape == (8, 128) and packed.num_tokens == 1000
    flat_ids, flat_labels = packed.input_ids.reshape(-1), packed.labels.reshape(-1)
    assert np.array_equal(flat_ids[:1000], sample.input_ids)
    assert np.all(flat_labels[1000:] == -100) and np.all(
        packed.attention_mask.reshape(-1)[1000:] == 0
    )
    assert np.array_equal(flat_labels[:1000] != -100, sample.loss_mask)


def test_draw_records_exact() -> None:
    rng = np.random.default_rng(0)
    lengths = np.array([5, 3, 8, 2])
    for tokens in range(1, 60):
        idx, keep = draw_records(lengths, tokens, rng)
        assert lengths[idx[:-1]].sum() + keep == tokens and 0 < keep <= lengths[idx[-1]]
        counts = np.bincount(idx, minlength=4)
        assert counts.max() - counts.min() <= 1  # whole passes before any record repeats again


def test_summary(domains: tuple[TokenizedDomain, ...], tmp_path: Path) -> None:
    s = sample_mixture(domains, uniform_mixture(domains), 3000, seed=0).summary()
    assert set(s) == {"finance", "sql", "support"} and sum(v["tokens"] for v in s.values()) == 3000
