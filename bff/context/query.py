"""User text turned into a safe FTS5 query.

Raw text is never passed as FTS5 syntax: a stray quote, ``*``, ``NEAR(`` or ``OR``
would raise a syntax error or change the query's meaning. Only runs of letters and
digits survive, each quoted as a phrase (so ``OR`` or ``NEAR`` are plain words), and
they are joined with ``OR`` so a snippet matching some of the words still ranks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

STOP_WORDS = frozenset(
    "a about all also am an and any are as at be been but by can could did do does for "
    "from had has have how i if in into is it its me my of on or our please so than that "
    "the their them then there these they this to us was we were what when where which "
    "who why will with would you your".split()
)
MAX_TERMS = 32
"""Words kept from one query: a pasted page must not become a 2,000-word search."""
MAX_WORD_CHARS = 64
_WORD = re.compile(r"[^\W_]+")


def query_words(text: str) -> list[str]:
    """The words of ``text`` worth searching: casefolded, no stop words, each once, in
    order, at most ``MAX_TERMS``; letters and digits only."""
    words: list[str] = []
    for found in _WORD.finditer(unicodedata.normalize("NFKC", text).casefold()):
        word = found[0]
        if word in STOP_WORDS or len(word) > MAX_WORD_CHARS or word in words:
            continue
        words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def match_expression(words: Sequence[str], *, titles_only: bool = False) -> str:
    """The FTS5 MATCH expression that finds any of ``words``, each quoted as a phrase,
    in the ``title`` column alone or in any."""
    phrases = " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
    return f"{{title}} : ({phrases})" if titles_only else phrases
