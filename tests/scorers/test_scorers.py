"""Every built-in scorer on real records, the score cache, and the refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mixopt.data.spec import DomainSpec
from mixopt.data.tokenize import tokenize_domain
from mixopt.errors import ConfigError
from mixopt.scorers import SCORERS, make_scorer
from mixopt.scorers.cache import score_domain, score_domains
from mixopt.scorers.repetition import char_rep_ratio, word_rep_ratio
from mixopt.testing import make_records


def _domain(
    name: str, kind: str, tokenizer: Any, n: int = 40, extra: list[dict[str, Any]] | None = None
) -> Any:
    records = make_records(kind, n, seed=3) + list(extra or [])
    return tokenize_domain(DomainSpec(name, data=tuple(records)), tokenizer)


def test_repetition_ratios_follow_data_juicer_definitions() -> None:
    assert word_rep_ratio("a b c d", rep_len=2) == 0.0
    # bigrams "a b" x3, "b a" x2: all five repeat
    assert word_rep_ratio("A b, a B a b!", rep_len=2) == 1.0
    assert word_rep_ratio("one two three one two", rep_len=2) == pytest.approx(2 / 4)
    assert word_rep_ratio("short", rep_len=10) == 0.0
    assert char_rep_ratio("abcabcabc", rep_len=3) == pytest.approx(3 / 7)
    assert char_rep_ratio("ab", rep_len=3) == 0.0


def test_builtin_scorers_score_real_records(tiny_model_dir: Path) -> None:
    from mixopt.models import load_tokenizer

    tok = load_tokenizer(str(tiny_model_dir))
    loop = {
        "prompt": "Question: how many orders have price above 3?\nSQL:",
        "completion": " SELECT " * 30,
    }
    sql = _domain("sql", "sql", tok, extra=[loop])
    text = _domain("finance", "finance", tok, extra=[{"text": "buy now " * 40}])
    chat = _domain("support", "support", tok, n=12)
    model = str(tiny_model_dir)
    cache = None  # the test's own (MIXOPT_CACHE_DIR)

    def scores(d: Any, name: str, **settings: Any) -> np.ndarray:
        return np.load(score_domain(d, name, settings, model, cache, tokenizer=tok))

    rep = scores(text, "word_repetition", rep_len=2)
    assert rep[-1] > 0.9 and np.median(rep[:-1]) < 0.2  # the degenerate record stands out
    assert scores(sql, "char_repetition")[-1] > scores(sql, "char_repetition")[:-1].max()
    assert list(scores(text, "length")) == list(text.lengths())
    ppl = scores(text, "perplexity")
    assert ppl.shape == (41,) and (ppl > 1).all()
    ifd = scores(sql, "ifd")
    assert ifd.shape == (41,) and np.isfinite(ifd).all() and (ifd > 0).all()
    # a prompt that predicts its answer helps: IFD below 1 for the real records
    assert np.median(ifd[:-1]) < 1.0
    assert scores(chat, "ifd").shape == (12,)
    with pytest.raises(ConfigError, match="text records, which have no prompt"):
        scores(text, "ifd")


def test_scores_are_cached_and_a_second_call_computes_none(tokenizer: Any, tmp_path: Path) -> None:
    d = _domain("finance", "finance", tokenizer)
    first = score_domains([d], {"word_repetition": {}}, cache_dir=tmp_path, tokenizer=tokenizer)
    mtime = Path(first["finance"]["word_repetition"]).stat().st_mtime_ns
    again = score_domains([d], {"word_repetition": {}}, cache_dir=tmp_path, tokenizer=tokenizer)
    assert again == first and Path(first["finance"]["word_repetition"]).stat().st_mtime_ns == mtime
    other = score_domains(
        [d], {"word_repetition": {"rep_len": 3}}, cache_dir=tmp_path, tokenizer=tokenizer
    )
    assert (
        other["finance"]["word_repetition"] != first["finance"]["word_repetition"]
    )  # settings key it
    assert not list(tmp_path.rglob("*.tmp"))


def test_unknown_scorer_and_bad_settings_are_one_line() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown scorer 'word_repetiton'\. Did you mean: word_repetition"
    ):
        make_scorer("word_repetiton")
    with pytest.raises(ConfigError, match="scorer 'length': bad settings"):
        make_scorer("length", {"rep_len": 3})
    assert {"ifd", "perplexity", "length", "word_repetition", "char_repetition"} <= set(
        SCORERS.names()
    )


def test_a_dj_scorer_where_data_juicer_is_not_installed_says_how_to_install_it() -> None:
    # -S: no site-packages, so no py-data-juicer (naming scorers needs no third-party package)
    code = (
        "from mixopt.errors import ConfigError\nfrom mixopt.scorers import SCORERS\n"
        "from mixopt.cli.ls import catalogue\nprint(dict(catalogue('scorers'))['dj:<op_name>'])\n"
        "try:\n    SCORERS.get('dj:word_repetition_filter')\nexcept ConfigError as exc:\n    print(exc)\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].endswith("(needs pip install 'mixopt[data-juicer]').")
    assert out[1:] == [
        "scorer 'dj:word_repetition_filter': Data-Juicer is not installed; pip install 'mixopt[data-juicer]'"
    ]
