"""How the benchmarks print a figure measured over several rounds: its range, ``min..max``."""

from __future__ import annotations

from collections.abc import Iterable


def figure(value: float) -> str:
    """At least three significant digits and no exponent: 1.23, 12.3, 123, 1234."""
    size = abs(value)
    return f"{value:.{2 if size < 10 else 1 if size < 100 else 0}f}"


def span(values: Iterable[float]) -> str:
    """``min..max`` of ``values`` (``..``, not ``-``: a figure may be negative)."""
    figures = list(values)
    return f"{figure(min(figures))}..{figure(max(figures))}"
