"""Patterns for words as names and streets are written: capitalised, in the
Latin scripts of Europe and the Americas."""

from __future__ import annotations

UPPER = "".join(c for c in map(chr, range(0x41, 0x250)) if c.isupper())
LOWER = "".join(c for c in map(chr, range(0x61, 0x250)) if c.islower())

WORD = (
    rf"[{UPPER}](?:['\u2019][{UPPER}])?[{LOWER}]+(?:[{UPPER}][{LOWER}]+)?"
    rf"(?:['\u2019-][{UPPER}]?[{LOWER}]+)*"
)
"""A capitalised word: Anna, McDonald, O'Brien, D'Adda, Jean-Luc, Müller-Lüdenscheidt. It
starts with a character class, so that the regex engine skips ahead fast."""


def words(choices: str) -> str:
    """``choices`` (words separated by ``|``) as a pattern group, longest first so
    that ``Streets`` is tried before ``Street``."""
    ordered = sorted(set(choices.split("|")), key=lambda w: (-len(w), w))
    return "(?:" + "|".join(w.replace(".", r"\.") for w in ordered) + ")"
