"""Where a text's digits are, worked out once per text and shared by the
recognizers whose kinds need digits, so a text without enough of them costs
each of those recognizers a lookup instead of a pass over the text."""

from __future__ import annotations

import functools
import re

_RUN = re.compile(r"\d+")
_JOINERS = frozenset(" \t.-/()+:")


@functools.lru_cache(maxsize=4)
def digit_runs(text: str) -> tuple[tuple[int, int], ...]:
    """The start and end of every run of digits in ``text``."""
    return tuple(m.span() for m in _RUN.finditer(text))


@functools.lru_cache(maxsize=4)
def longest_number(text: str) -> int:
    """The digits of the longest number in ``text``, counting runs joined by up to
    three spaces, dots, dashes, slashes, brackets, colons or plus signs as one
    (``+33 (0)2 49 77 77 41`` is 12)."""
    longest = count = 0
    end = -1
    for start, stop in digit_runs(text):
        gap = text[end:start] if end >= 0 else "x"
        joined = len(gap) <= 3 and all(c in _JOINERS for c in gap)
        count = count + stop - start if joined else stop - start
        longest = max(longest, count)
        end = stop
    return longest


@functools.lru_cache(maxsize=4)
def dotted_quad(text: str) -> bool:
    """Whether ``text`` has four runs of digits joined by single dots (``10.0.0.1``)."""
    chain, end = 1, -2
    for start, stop in digit_runs(text):
        chain = chain + 1 if start == end + 1 and text[end] == "." else 1
        if chain == 4:
            return True
        end = stop
    return False
