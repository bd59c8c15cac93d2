"""Which words of a query to search for, and where: the rare ones, in the text.

BM25 is computed for every chunk that matches any word of an ``OR`` query (about
0.7 µs a chunk here), so a word found in a third of 30,000 chunks makes a search take
10 ms while it adds next to nothing to the ranking. The rules, given how many chunks
each word matches:

- a word no chunk has is left out, and so is one found in more than ``MATCH_CAP``
  chunks that are half the chunks or more: FTS5's BM25 gives such a word no weight (it
  clamps the negative IDF of a term in half the rows or more to 1e-6), so it could only
  cost time;
- the other words are taken rarest first while the chunks they match add up to at most
  ``MATCH_CAP``; the rarest is always taken;
- when even the rarest matches more than ``MATCH_CAP`` chunks, only titles are searched:
  the word says little about any one chunk, and a chunk whose heading has it is about it.

On a corpus of fewer than ``MATCH_CAP`` chunks (the demo handbook has about 200) no
rule ever applies; on a large one the commonest words of a query are the ones left out,
and they are the ones that weigh least in its ranking.

The index counts chunks per term as its tokenizer made them (casefolded, without
diacritics, Porter-stemmed: "refunds" is ``refund``), so ``Stemmer`` asks the same
tokenizer what it makes of each word.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

TOKENIZER = "porter unicode61 remove_diacritics 2"
MATCH_CAP = 3000
"""Chunks a query's words may match in total before its commonest words are left out."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to search for: ``words`` (in the query's order), in titles only or not."""

    words: list[str]
    titles_only: bool


class Stemmer:
    """The index terms of words, from the FTS5 tokenizer itself (a table in memory)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE probe USING fts5(word, tokenize = '{TOKENIZER}')")
        self._db.execute("CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, 'instance')")

    def terms(self, words: Sequence[str]) -> list[list[str]]:
        """The terms of each word, in order (usually one; none for a word the tokenizer
        drops, several for one it splits)."""
        self._db.execute("DELETE FROM probe")
        self._db.executemany("INSERT INTO probe(rowid, word) VALUES (?, ?)", enumerate(words))
        terms: list[list[str]] = [[] for _ in words]
        for row, term in self._db.execute("SELECT doc, term FROM probe_terms"):
            terms[row].append(term)
        return terms

    def close(self) -> None:
        self._db.close()


def plan(words: Sequence[str], matches: Sequence[int], chunks: int) -> Plan | None:
    """The search for ``words``, given how many of the index's ``chunks`` each one
    ``matches``; None when no word is worth searching for (see the module's docstring)."""
    useful = sorted(
        (count, index)
        for index, count in enumerate(matches)
        if count > 0 and not (count > MATCH_CAP and count * 2 >= chunks)
    )
    if not useful:
        return None
    taken: list[int] = []
    total = 0
    for count, index in useful:
        if taken and total + count > MATCH_CAP:
            break
        taken.append(index)
        total += count
    return Plan([words[index] for index in sorted(taken)], titles_only=total > MATCH_CAP)
