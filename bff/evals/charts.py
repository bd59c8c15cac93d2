"""Inline SVG charts for the HTML report: score bars and histograms, one or two series.

Every label is escaped here; the SVG needs no script and no outside file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

COLORS = ("#4c78a8", "#f58518")
"""The first run's colour, then the second's."""
LABEL_WIDTH = 220
BAR_AREA = 420
ROW = 22


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def score_bars(labels: Sequence[str], series: Sequence[Series], title: str) -> str:
    """Horizontal bars, one row per label and one bar per series, on a 0-1 scale."""
    per_row = max(1, len(series))
    height = len(labels) * ROW * per_row + 30
    width = LABEL_WIDTH + BAR_AREA + 70
    parts = [_open(width, height, title)]
    for row, label in enumerate(labels):
        top = row * ROW * per_row + 4
        parts.append(_text(LABEL_WIDTH - 8, top + ROW * per_row / 2 + 4, label, anchor="end"))
        for index, one in enumerate(series):
            value = max(0.0, min(1.0, one.values[row]))
            y = top + index * ROW
            length = max(1.0, value * BAR_AREA)
            parts.append(
                f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}"'
                f' height="{ROW - 6}" fill="{COLORS[index % 2]}">'
                f"<title>{escape(one.name)}: {escape(label)} {value:.3f}</title></rect>"
            )
            parts.append(_text(LABEL_WIDTH + value * BAR_AREA + 6, y + ROW - 10, f"{value:.3f}"))
    parts.append(_axis(height - 22, ("0", "0.5", "1")))
    parts.append("</svg>")
    return "".join(parts)


def histogram(series: Sequence[Series], title: str, unit: str, bins: int = 12) -> str:
    """Counts of the values in ``bins`` equal ranges (shared by the series), side by side."""
    values = [v for one in series for v in one.values]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    step = (high - low) / bins if high > low else 1.0
    counts = [_counts(one.values, low, step, bins) for one in series]
    tallest = max((max(c) for c in counts if c), default=0) or 1
    width, height, plot = 640, 230, 170
    slot = (width - 60) / bins
    parts = [_open(width, height, title)]
    for index, column in enumerate(counts):
        bar_width = (slot - 4) / max(1, len(series))
        for b, count in enumerate(column):
            tall = plot * count / tallest
            x = 40 + b * slot + index * bar_width
            start, end = low + b * step, low + (b + 1) * step
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{10 + plot - tall:.1f}" '
                f'width="{bar_width:.1f}" height="{max(tall, 0.5):.1f}" '
                f'fill="{COLORS[index % 2]}"><title>{escape(series[index].name)}: {count} '
                f"between {start:.0f} and {end:.0f} {escape(unit)}</title></rect>"
            )
    parts.append(_text(4, 18, str(tallest)))
    parts.append(_text(40, plot + 28, f"{low:.0f} {unit}"))
    parts.append(_text(width - 20, plot + 28, f"{high:.0f} {unit}", anchor="end"))
    parts.append("</svg>")
    return "".join(parts)


def _counts(values: Sequence[float], low: float, step: float, bins: int) -> list[int]:
    counts = [0] * bins
    for value in values:
        index = min(bins - 1, max(0, math.floor((value - low) / step)))
        counts[index] += 1
    return counts


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _axis(y: float, marks: Sequence[str]) -> str:
    step = BAR_AREA / (len(marks) - 1)
    ticks = "".join(
        _text(LABEL_WIDTH + i * step, y + 16, mark, anchor="middle") for i, mark in enumerate(marks)
    )
    line = (
        f'<line x1="{LABEL_WIDTH}" y1="{y}" x2="{LABEL_WIDTH + BAR_AREA}" y2="{y}" stroke="#888"/>'
    )
    return line + ticks
