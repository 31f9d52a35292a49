"""The repetition scorers give Data-Juicer's own statistics on the same records (where
``py-data-juicer`` is installed: ``pip install 'mixopt[data-juicer]'``; it is not in the
test environment, so CI skips this; run it in a venv that has it)."""

from __future__ import annotations

import pytest

from mixopt.scorers.repetition import char_rep_ratio, word_rep_ratio
from mixopt.testing import make_records

pytest.importorskip("data_juicer", reason="py-data-juicer is not installed (optional extra data-juicer)")


def test_repetition_stats_match_data_juicer_ops() -> None:
    from data_juicer.ops.filter.character_repetition_filter import CharacterRepetitionFilter
    from data_juicer.ops.filter.word_repetition_filter import WordRepetitionFilter
    from data_juicer.utils.constant import Fields

    texts = [r["text"] for kind in ("finance", "code", "cooking") for r in make_records(kind, 30, seed=4)]
    texts += ["buy now! " * 30, "Café — café «café» 12café\tcafé", "x" * 50, ""]
    for rep_len in (2, 10):
        w = WordRepetitionFilter(rep_len=rep_len)
        c = CharacterRepetitionFilter(rep_len=rep_len)
        ws = w.compute_stats_batched({"text": texts, Fields.stats: [{} for _ in texts]})[Fields.stats]
        cs = c.compute_stats_batched({"text": texts, Fields.stats: [{} for _ in texts]})[Fields.stats]
        assert [s["word_rep_ratio"] for s in ws] == pytest.approx([word_rep_ratio(t, rep_len) for t in texts])
        assert [s["char_rep_ratio"] for s in cs] == pytest.approx([char_rep_ratio(t, rep_len) for t in texts])
