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
    '\x92\u2009\x93\x97\u200a\x9d\x99\u202f\x96\u2005\x95\x91\x9c\u3000\u2002 \u2008\x98\x81\u2003\x82￼\x83\x84’“”–ー一▬…✦�\xad£\u200b•€«»°·═×士＾˘⇓↓↑←→（）§″′´¿−±∈\ufeff¢ø‚„½¼¾¹²³―⁃，ˌ¸‹›ʺˈʻ¦‐⠀‰\x85\x85‑≤≥‖◆●■►▼▲▴∆▻¡★☆✱ːº。¯˜¥ɪ≈†上ン：∼⁄・♡✓⊕․．⋅÷１‟；،、¨ाাी्े◦˚゜ʼ≖ʼ¤ッツシ℃√！【】‿∞➤～πه۩☛₨➩☻๑٪♥ıॽ《‘©﴿٬？▷Г♫∟™ª₪®「—❖」﴾》'
)  # fmt: skip
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


class WordRepetition:
    """Ratio of repeated word n-grams (``rep_len`` words), as Data-Juicer's ``word_repetition_filter``.

    Matches ``data_juicer/ops/filter/word_repetition_filter.py`` (stat ``word_rep_ratio``,
    default ``rep_len=10``): the text split on spaces, newlines and tabs, each word lowercased and stripped of
    punctuation, digits and whitespace at its ends, empty words dropped; ratio = occurrences
    of the n-grams seen more than once / all n-grams (0 when there are none).
    """

    uses_model = False
    needs_instruction = False

    def __init__(self, rep_len: int = 10) -> None:
        self.rep_len = int(rep_len)

    def settings(self) -> dict[str, Any]:
        return {"rep_len": self.rep_len}

    def score(self, data: ScoreInput) -> Sequence[float]:
        return [word_rep_ratio(t, self.rep_len) for t in data.texts()]


class CharRepetition:
    """Ratio of repeated character n-grams, as Data-Juicer's ``character_repetition_filter``.

    Matches ``data_juicer/ops/filter/character_repetition_filter.py`` (stat
    ``char_rep_ratio``, default ``rep_len=10``): count every character ``rep_len``-gram;
    with ``k = min(floor(sqrt(#distinct)), #distinct seen more than once)``, ratio = the
    occurrences of the ``k`` most frequent / all occurrences (0 when there are none).
    """

    uses_model = False
    needs_instruction = False

    def __init__(self, rep_len: int = 10) -> None:
        self.rep_len = int(rep_len)

    def settings(self) -> dict[str, Any]:
        return {"rep_len": self.rep_len}

    def score(self, data: ScoreInput) -> Sequence[float]:
        return [char_rep_ratio(t, self.rep_len) for t in data.texts()]
