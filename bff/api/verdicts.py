"""Each GraphQL document's parse and verdict, kept by its text.

The clients of a frontend send the same few documents over and over; parsing and
validating each anew cost the most CPU of a mutation. Here a document text is parsed
once, and its verdict (the cost check, then standard validation, for one set of
validation rules) reached once; a refusal is kept like a pass. Both are bounded LRU
maps, so a client sending endless distinct texts cannot grow memory: it only pays for
its own parses. A text over the parser's token limit raises each time (nothing kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, parse

DEFAULT_SIZE = 256


class Verdicts:
    """See the module docstring; one per schema."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._parse = lru_cache(maxsize=size)(parse)
        self._verdicts: OrderedDict[tuple[str, Hashable], list[GraphQLError]] = OrderedDict()

    def parse(self, query: str, **options: Any) -> DocumentNode:
        """The document of ``query`` (options: the parser's, such as ``max_tokens``)."""
        document: DocumentNode = self._parse(query, **options)
        return document

    def verdict(
        self, query: str, rules: Hashable, judge: Callable[[], list[GraphQLError]]
    ) -> list[GraphQLError]:
        """The errors of ``query`` under ``rules`` (none: it may run), from ``judge`` the
        first time."""
        key = (query, rules)
        found = self._verdicts.get(key)
        if found is not None:
            self._verdicts.move_to_end(key)
            return found
        errors = self._verdicts[key] = judge()
        if len(self._verdicts) > self._size:
            self._verdicts.popitem(last=False)
        return errors
