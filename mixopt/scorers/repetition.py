"""Repetition ratios of words and characters, as Data-Juicer's filters compute them."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mixopt.scorers._base import ScoreInput

__all__ = ["CharRepetition", "WordRepetition", "char_rep_ratio", "word_rep_ratio"]

# Data-Juicer's SPECIAL_CHARACTERS (data_juicer/ops/common/special_characters.py) but its
# emoji (which need the emoji package): stripped from both ends of every word before word
# n-grams are counted
_SPECIAL = set(string.punctuation + string.digits + string.whitespace) | set(
    "\x92\u2009\x93\x97\u200a\x9d\x99\u202f\x96\u2005\x95\x91\x9c\u3000\u2002 \u2008\x98"
    "\x81\u2003\x82\ufffc\x83\x84\u2019\u201c\u201d\u2013\u30fc\u4e00\u25ac\u2026\u2726"
    "\ufffd\xad\xa3\u200b\u2022\u20ac\xab\xbb\xb0\xb7\u2550\xd7\u58eb\uff3e\u02d8\u21d3"
    "\u2193\u2191\u2190\u2192\uff08\uff09\xa7\u2033\u2032\xb4\xbf\u2212\xb1\u2208\ufeff"
    "\xa2\xf8\u201a\u201e\xbd\xbc\xbe\xb9\xb2\xb3\u2015\u2043\uff0c\u02cc\xb8\u2039\u203a"
    "\u02ba\u02c8\u02bb\xa6\u2010\u2800\u2030\x85\x85\u2011\u2264\u2265\u2016\u25c6\u25cf"
    "\u25a0\u25ba\u25bc\u25b2\u25b4\u2206\u25bb\xa1\u2605\u2606\u2731\u02d0\xba\u3002\xaf"
    "\u02dc\xa5\u026a\u2248\u2020\u4e0a\u30f3\uff1a\u223c\u2044\u30fb\u2661\u2713\u2295"
    "\u2024\uff0e\u22c5\xf7\uff11\u201f\uff1b\u060c\u3001\xa8\u093e\u09be\u0940\u094d"
    "\u0947\u25e6\u02da\u309c\u02bc\u2256\u02bc\xa4\u30c3\u30c4\u30b7\u2103\u221a\uff01"
    "\u3010\u3011\u203f\u221e\u27a4\uff5e\u03c0\u0647\u06e9\u261b\u20a8\u27a9\u263b\u0e51"
    "\u066a\u2665\u0131\u097d\u300a\u2018\xa9\ufd3f\u066c\uff1f\u25b7\u0413\u266b\u221f"
    "\u2122\xaa\u20aa\xae\u300c\u2014\u2756\u300d\ufd3e\u300b"
)
_STRIP = "".join(sorted(_SPECIAL))


def word_rep_ratio(text: str, rep_len: int = 10) -> float:
    """Share of word ``rep_len``-grams that occur more than once (occurrences counted)."""
    words = [w.lower().strip(_STRIP) for w in re.split(" |\n|\t", text)]
    words = [w for w in words if w]
    grams = Counter(" ".join(words[i : i + rep_len]) for i in range(len(words) - rep_len + 1))
    total = sum(grams.values())
    return sum(c for c in grams.values() if c > 1) / total if total else 0.0


def char_rep_ratio(text: str, rep_len: int = 10) -> float:
    """Share of character ``rep_len``-grams held by the sqrt(#distinct) most frequent repeated ones."""
    grams = Counter(text[i : i + rep_len] for i in range(len(text) - rep_len + 1))
    if not grams:
        return 0.0
    freqs = sorted(grams.values(), reverse=True)
    unique = sum(1 for f in freqs if f == 1)
    top = min(int(len(freqs) ** 0.5), len(freqs) - unique)
    return sum(freqs[:top]) / sum(freqs)


class _RepetitionRatio:
    """A ratio of repeated ``rep_len``-grams in each record's text (:meth:`ratio`)."""

    uses_model = False
    needs_instruction = False

    def __init__(self, rep_len: int = 10) -> None:
        self.rep_len = int(rep_len)

    def settings(self) -> dict[str, Any]:
        return {"rep_len": self.rep_len}

    def score(self, data: ScoreInput) -> Sequence[float]:
        return [self.ratio(t) for t in data.texts()]

    def ratio(self, text: str) -> float:
        raise NotImplementedError


class WordRepetition(_RepetitionRatio):
    """Ratio of repeated word n-grams (``rep_len`` words), as Data-Juicer's ``word_repetition_filter``.

    Matches ``data_juicer/ops/filter/word_repetition_filter.py`` (stat ``word_rep_ratio``,
    default ``rep_len=10``): the text split on spaces, newlines and tabs, each word lowercased and stripped of
    punctuation, digits and whitespace at its ends, empty words dropped; ratio = occurrences
    of the n-grams seen more than once / all n-grams (0 when there are none).
    """

    def ratio(self, text: str) -> float:
        return word_rep_ratio(text, self.rep_len)


class CharRepetition(_RepetitionRatio):
    """Ratio of repeated character n-grams, as Data-Juicer's ``character_repetition_filter``.

    Matches ``data_juicer/ops/filter/character_repetition_filter.py`` (stat
    ``char_rep_ratio``, default ``rep_len=10``): count every character ``rep_len``-gram;
    with ``k = min(floor(sqrt(#distinct)), #distinct seen more than once)``, ratio = the
    occurrences of the ``k`` most frequent / all occurrences (0 when there are none).
    """

    def ratio(self, text: str) -> float:
        return char_rep_ratio(text, self.rep_len)
