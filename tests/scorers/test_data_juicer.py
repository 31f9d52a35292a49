"""Data-Juicer's own ops, where ``py-data-juicer`` is installed (``pip install 'mixopt[data-juicer]'``;
skipped where it is not): the repetition scorers give its statistics, any filter op is a
``dj:<op_name>`` scorer giving the op's own stats, and ops that need the network are refused."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import tokenize_domain
from mixopt.errors import ConfigError
from mixopt.scorers import make_scorer
from mixopt.scorers._base import ScoreInput
from mixopt.scorers.cache import score_domain
from mixopt.scorers.repetition import char_rep_ratio, word_rep_ratio
from mixopt.search.proposals.space import parse_space
from mixopt.testing import make_records
from tests.conftest import FAST_TRAIN
from tests.support.services import unavailable

try:
    import data_juicer  # noqa: F401
except ImportError:
    unavailable("py-data-juicer is not installed (optional extra data-juicer)", module=True)

from data_juicer.ops.base_op import OPERATORS, Filter
from data_juicer.utils.constant import Fields


class VowelFilter(Filter):
    """A Data-Juicer op of the kind a plugin adds: per record (no batched form), two stats."""

    def __init__(self, letters: str = "aeiou", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.letters = letters

    def compute_stats_single(self, sample: dict[str, Any]) -> dict[str, Any]:
        text = sample[self.text_key]
        count = sum(c in self.letters for c in text.lower())
        sample[Fields.stats]["vowels"] = count
        sample[Fields.stats]["vowel_ratio"] = count / max(1, len(text))
        return sample

    def process_single(self, sample: dict[str, Any]) -> bool:
        return True


OPERATORS.register_module("mixopt_vowel_filter", VowelFilter, force=True)


def test_repetition_stats_match_data_juicer_ops() -> None:
    from data_juicer.ops.filter.character_repetition_filter import CharacterRepetitionFilter
    from data_juicer.ops.filter.word_repetition_filter import WordRepetitionFilter

    texts = [
        r["text"] for kind in ("finance", "code", "cooking") for r in make_records(kind, 30, seed=4)
    ]
    texts += ["buy now! " * 30, "Café — café «café» 12café\tcafé", "x" * 50, ""]
    for rep_len in (2, 10):
        w = WordRepetitionFilter(rep_len=rep_len)
        c = CharacterRepetitionFilter(rep_len=rep_len)
        ws = w.compute_stats_batched({"text": texts, Fields.stats: [{} for _ in texts]})[
            Fields.stats
        ]
        cs = c.compute_stats_batched({"text": texts, Fields.stats: [{} for _ in texts]})[
            Fields.stats
        ]
        assert [s["word_rep_ratio"] for s in ws] == pytest.approx(
            [word_rep_ratio(t, rep_len) for t in texts]
        )
        assert [s["char_rep_ratio"] for s in cs] == pytest.approx(
            [char_rep_ratio(t, rep_len) for t in texts]
        )


def _op_stats(op: str, settings: dict[str, Any], texts: list[str]) -> list[dict[str, Any]]:
    """What the op itself computes, built and called here without mixopt."""
    built = OPERATORS.modules[op](**settings)
    stats: list[dict[str, Any]] = [{} for _ in texts]
    built.compute_stats_batched({"text": texts, Fields.stats: stats})
    return stats


def test_a_dj_scorer_gives_the_ops_own_stats_on_the_records_as_trained(tokenizer: Any) -> None:
    junk = [
        {"text": "BUY NOW!!! $$$ " * 20},
        {"text": "Café — «café»\n\n12 café\tcafé"},
        {"text": "#$%^&*"},
    ]
    # more than one batch of records (1,000), so the batches are joined in order
    text = tokenize_domain(
        DomainSpec("finance", data=tuple(make_records("finance", 1100, seed=3) + junk)), tokenizer
    )
    sql = tokenize_domain(DomainSpec("sql", data=tuple(make_records("sql", 40, seed=3))), tokenizer)
    for domain in (text, sql):
        texts = ScoreInput(domain, None, tokenizer).texts()
        for op, settings, stat in [
            ("special_characters_filter", {}, "special_char_ratio"),
            ("word_repetition_filter", {"rep_len": 3}, "word_rep_ratio"),
            ("alphanumeric_filter", {}, "alnum_ratio"),
            ("text_length_filter", {"max_len": 5}, "text_len"),  # its own threshold is moot
        ]:
            ours = np.load(score_domain(domain, f"dj:{op}", settings, tokenizer=tokenizer))
            assert ours.shape == (domain.num_records,)
            assert ours.tolist() == pytest.approx([s[stat] for s in _op_stats(op, settings, texts)])
        lengths = np.load(score_domain(domain, "dj:text_length_filter", {}, tokenizer=tokenizer))
        assert lengths.tolist() == [len(t) for t in texts]
    # a prompt/completion record is scored as trained: prompt and completion together
    record = make_records("sql", 1, seed=3)[0]
    first = ScoreInput(sql, None, tokenizer).texts()[0]
    assert record["prompt"].strip() in first and record["completion"].strip() in first
    special = np.load(score_domain(text, "dj:special_characters_filter", {}, tokenizer=tokenizer))
    assert special[-3] > 0.3 > np.median(special[:-3])  # the junk stands out


def test_an_op_without_a_batched_form_is_scored_record_by_record(tokenizer: Any) -> None:
    domain = tokenize_domain(
        DomainSpec("cooking", data=tuple(make_records("cooking", 30, seed=5))), tokenizer
    )
    texts = ScoreInput(domain, None, tokenizer).texts()
    with pytest.raises(
        ConfigError, match=r"computes 2 statistics \(vowels, vowel_ratio\); choose one with stat"
    ) as info:
        make_scorer("dj:mixopt_vowel_filter")
    assert len(info.value.problems) == 1
    vowels = np.load(
        score_domain(
            domain,
            "dj:mixopt_vowel_filter",
            {"stat": "vowels", "letters": "ae"},
            tokenizer=tokenizer,
        )
    )
    assert vowels.tolist() == [sum(c in "ae" for c in t.lower()) for t in texts]


def test_the_cache_key_holds_the_op_its_settings_and_the_data_juicer_version(
    tokenizer: Any,
) -> None:
    domain = tokenize_domain(
        DomainSpec("sports", data=tuple(make_records("sports", 20, seed=2))), tokenizer
    )
    assert make_scorer("dj:word_repetition_filter", {"rep_len": 3}).settings() == {
        "op": "word_repetition_filter",
        "stat": "word_rep_ratio",
        "args": {"rep_len": 3},
        "py-data-juicer": "1.6.1",
    }
    first = score_domain(domain, "dj:word_repetition_filter", {"rep_len": 3}, tokenizer=tokenizer)
    assert (
        score_domain(domain, "dj:word_repetition_filter", {"rep_len": 3}, tokenizer=tokenizer)
        == first
    )
    assert (
        score_domain(domain, "dj:word_repetition_filter", {"rep_len": 4}, tokenizer=tokenizer)
        != first
    )


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        # a KenLM and a sentencepiece model, loaded (downloaded when missing) as the op is built
        (
            "perplexity_filter",
            {},
            r"'dj:perplexity_filter' loads a sentencepiece model \(en\) when built, which "
            r"Data-Juicer downloads when missing; mixopt runs offline: use the built-in scorer 'perplexity'$",
        ),
        # a Hugging Face tokenizer, loaded as the op first scores
        (
            "token_num_filter",
            {},
            r"loads a huggingface model \(EleutherAI/pythia-6.9b-deduped\) when it first scores, "
            r"which Data-Juicer downloads when missing; mixopt runs offline: use the built-in scorer 'length'$",
        ),
        # an op that runs offline with its defaults, not with tokenization
        (
            "word_repetition_filter",
            {"tokenization": True},
            r"loads a sentencepiece model \(en\) when built",
        ),
        # a word list it downloads when its folder has none
        (
            "stopwords_filter",
            {"stopwords_dir": "EMPTY"},
            r"reaches \S+ over the network when built; mixopt runs offline$",
        ),
        # a package it would `uv pip install` from GitHub when built
        (
            "video_tagging_from_frames_filter",
            {},
            r"installs ram @ git\+https://\S+ with uv pip when built; mixopt runs offline$",
        ),
    ],
)
def test_an_op_that_needs_the_network_is_refused_before_anything_leaves(
    name: str, settings: dict[str, Any], message: str, tmp_path: Path
) -> None:
    settings = {k: str(tmp_path) if v == "EMPTY" else v for k, v in settings.items()}
    with pytest.raises(ConfigError, match=message) as info:
        parse_space({"filters": {f"dj:{name}": {"max": 1.0, **settings}}})
    assert len(info.value.problems) == 1 and f"scorer 'dj:{name}'" in info.value.problems[0]
    assert importlib.util.find_spec("ram") is None and not list(
        tmp_path.iterdir()
    )  # nothing installed or fetched
    import data_juicer.utils.model_utils as models

    assert all(
        callable(f) and f.__module__ == models.__name__
        for f in models.MODEL_FUNCTION_MAPPING.values()
    )


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"dj:word_repetiton_filter": {"max": 0.5}},
            r"Unknown scorer 'dj:word_repetiton_filter': Data-Juicer 1.6.1 "
            r"has no filter op 'word_repetiton_filter'. Did you mean: dj:word_repetition_filter\?",
        ),
        (
            {"dj:word_repetition_filter": {"max": 0.5, "rep_lenn": 3}},
            "unknown setting 'rep_lenn'. Did you mean: rep_len?",
        ),
        (
            {"dj:text_length_filter": {"max": 0.5, "stat": "len"}},
            "stat 'len' is not one it computes. .*It computes: text_len",
        ),
        (
            {"dj:image_aspect_ratio_filter": {"max": 0.5}},
            "it reads field 'images', and mixopt gives ops each record's text",
        ),
        (
            {"dj:video_duration_filter": {"max": 0.5}},
            r"computes no number from a record's text \(only video_duration",
        ),
        ({"word_repetiton": {"max": 0.5}}, r"or a Data-Juicer filter op as 'dj:<op_name>'"),
    ],
)
def test_bad_dj_scorers_are_refused_one_line_each(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_space({"filters": filters})
    assert len(info.value.problems) == 1


def test_ls_says_data_juicer_ops_are_available(capsys: pytest.CaptureFixture[str]) -> None:
    from mixopt.cli import main

    assert main(["ls", "scorers"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "dj:<op_name>" in line)
    assert "(py-data-juicer 1.6.1 is installed)" in row


@pytest.mark.slow
def test_a_study_searches_a_dj_filter_with_the_shares(
    study_inputs: dict[str, Any], tmp_path: Path
) -> None:
    from mixopt import optimize_mixture

    space = tmp_path / "space.yaml"
    space.write_text("filters:\n  dj:special_characters_filter: {max: [0.26, 0.275]}\n")
    out = tmp_path / "study"
    result = optimize_mixture(
        study_inputs["model"],
        study_inputs["domains"],
        study_inputs["evaluator"],
        budget="2k",
        train={**FAST_TRAIN, "checkpoints": 1},
        trials=1,
        sampler="random",
        confirm=0,
        seed=3,
        out=str(out),
        space=str(space),
        executor="inprocess",
        tracking_uri="none",
        early_stop="off",
        quiet=True,
    )
    key = "dj:special_characters_filter.max"
    done = [t for t in result.trials if t.state == "COMPLETE"]
    assert len(done) == 3 and all(set(t.filters) == {key} for t in done)
    assert all(sum(d["tokens"] for d in t.result["domains"].values()) == 2000 for t in done)
    # finance's ratios are all below 0.23, cooking's and sports' from 0.24 to 0.29: they lose some
    for t in done:
        kept = t.result["kept"]
        assert kept["finance"]["records"] == kept["finance"]["of_records"] == 600
        assert all(0 < kept[d]["records"] < kept[d]["of_records"] for d in ("cooking", "sports"))
    best = json.loads((out / "best_mixture.json").read_text())
    assert set(best["filters"]) == {key} and 0.26 <= best["filters"][key] <= 0.275
    assert best["space"]["filters"]["thresholds"][key] == [0.26, 0.275]
    assert best["space"]["filters"]["settings"] == {"dj:special_characters_filter": {}}
    assert np.isfinite(best["score"])
