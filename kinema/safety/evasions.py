"""The evasions the moderator undoes, as functions that apply them: the moderation head trains
on prompts rewritten this way, and bench/moderation_eval.py tests with them.

``evade(text, kind, rng)`` rewrites ``text`` with one of ``KINDS``: leetspeak, Cyrillic
homoglyphs, zero-width characters inside words, repeated vowels, dots inside the longest word,
the longest word spaced out, and random upper case.
"""

from __future__ import annotations

import numpy as np

from kinema.errors import InvalidInputError

KINDS = ("leet", "homoglyph", "zero_width", "repeats", "punctuation", "spacing", "case")
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
GLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у"}


def _longest(words: list[str]) -> int:
    return max(range(len(words)), key=lambda i: len(words[i]))


def evade(text: str, kind: str, rng: np.random.Generator) -> str:
    """``text`` rewritten with the evasion ``kind`` (random choices drawn from ``rng``)."""
    words = text.split()
    if not words:
        return text
    k = _longest(words)
    if kind == "leet":
        return "".join(LEET.get(c, c) if rng.random() < 0.6 else c for c in text)
    if kind == "homoglyph":
        return "".join(GLYPHS.get(c, c) if rng.random() < 0.6 else c for c in text)
    if kind == "zero_width":
        return " ".join("\u200b".join(w) if len(w) > 3 else w for w in words)
    if kind == "repeats":
        return "".join(
            c * int(rng.integers(3, 5)) if c in "aeiou" and rng.random() < 0.5 else c for c in text
        )
    if kind == "punctuation":
        words[k] = ".".join(words[k])
        return " ".join(words)
    if kind == "spacing":
        words[k] = " ".join(words[k])
        return " ".join(words)
    if kind == "case":
        return "".join(c.upper() if rng.random() < 0.5 else c for c in text)
    raise InvalidInputError(f"unknown evasion {kind!r}; choose one of {KINDS}")
