"""The HTML report of one run, or of two side by side with their deltas.

One self-contained file: inline CSS and SVG, no script, no outside request (its content
security policy allows none). Everything from the dataset and the model is escaped: the
datasets carry hostile markup on purpose, and it must show as text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape

from bff.evals.aggregate import worst
from bff.evals.charts import COLORS, Series, histogram, score_bars
from bff.evals.compare import Comparison, compare
from bff.evals.run_file import CaseResult, RunFile

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;text-align:left;
border-bottom:1px solid #eee;vertical-align:top}th{background:#f6f6f6}
.num{text-align:right;font-variant-numeric:tabular-nums}.up{color:#1a7f37}.down{color:#cf222e}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-1px}
svg text{font-size:12px;fill:#333}
.case{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.side{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:1rem}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;white-space:pre-wrap;word-break:break-word;
max-height:24rem;margin:.25rem 0}
.warn{background:#fff4e5;padding:.5rem 1rem;border-left:4px solid #f58518}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def report_html(base: RunFile, new: RunFile | None = None, max_drop: float = 0.02) -> str:
    """The report of ``base``; with ``new``, both side by side (they must be comparable)."""
    runs = [base] if new is None else [base, new]
    comparison = compare(base, new, max_drop) if new is not None else None
    title = f"Eval report: {base.task.name}" + (" (two runs)" if new is not None else "")
    body = [
        f"<h1>{escape(title)}</h1>",
        _runs_table(runs),
        *(_verdict(comparison) if comparison is not None else []),
        _legend(runs),
        _field_section(runs),
        _distributions(runs),
        _tag_section(runs),
        *(_changes(comparison) if comparison is not None else []),
        _worst_section(runs[-1], base if new is not None else None),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _names(runs: Sequence[RunFile]) -> list[str]:
    return ["run"] if len(runs) == 1 else ["base", "new"]


def _runs_table(runs: Sequence[RunFile]) -> str:
    head = "".join(f"<th>{n}</th>" for n in _names(runs))
    head += "<th>delta</th>" if len(runs) > 1 else ""
    blank = "<td></td>" if len(runs) > 1 else ""
    lines = [
        f"<tr><th>{escape(label)}</th>{_cells(values)}{blank}</tr>"
        for label, values in _facts(runs)
    ]
    lines += [_figure_row(*figure) for figure in _figures(runs)]
    return f'<table id="overview"><tr><th></th>{head}</tr>{"".join(lines)}</table>'


def _cells(values: Sequence[str]) -> str:
    return "".join(f"<td>{escape(value)}</td>" for value in values)


def _facts(runs: Sequence[RunFile]) -> list[tuple[str, list[str]]]:
    return [
        ("route", [r.route for r in runs]),
        ("dataset", [f"{r.dataset.path} (sha256 {r.dataset.sha256[:12]})" for r in runs]),
        ("started", [r.started_at.isoformat(timespec="seconds") for r in runs]),
        ("finished", [r.finished_at.isoformat(timespec="seconds") for r in runs]),
        ("interrupted", ["yes" if r.interrupted else "no" for r in runs]),
        ("cases (repeats)", [f"{r.aggregates.overall.cases} ({r.repeat})" for r in runs]),
    ]


def _figures(runs: Sequence[RunFile]) -> list[tuple[str, list[float], str, bool]]:
    """(label, one value per run, format, whether higher is better)."""
    o = [r.aggregates.overall for r in runs]
    return [
        ("overall score", [x.score for x in o], "{:.3f}", True),
        ("passed", [float(x.passed) for x in o], "{:.0f}", True),
        ("validation-failure rate", [x.validation_failure_rate for x in o], "{:.1%}", False),
        ("latency p50 (ms)", [x.latency_p50_ms for x in o], "{:.0f}", False),
        ("latency p95 (ms)", [x.latency_p95_ms for x in o], "{:.0f}", False),
        ("prompt tokens", [float(x.prompt_tokens) for x in o], "{:,.0f}", False),
        ("completion tokens", [float(x.completion_tokens) for x in o], "{:,.0f}", False),
        ("cost (USD)", [x.cost_usd for x in o], "{:.4f}", False),
    ]


def _figure_row(label: str, values: Sequence[float], form: str, higher_better: bool) -> str:
    cells = "".join(f'<td class="num">{escape(form.format(v))}</td>' for v in values)
    if len(values) > 1:
        cells += _delta_cell(values[1] - values[0], form, higher_better)
    return f"<tr><th>{escape(label)}</th>{cells}</tr>"


def _delta_cell(delta: float, form: str = "{:.3f}", higher_better: bool = True) -> str:
    """The change, green when it is for the better and red when for the worse."""
    better = delta if higher_better else -delta
    cls = "up" if better > 1e-9 else "down" if better < -1e-9 else ""
    sign = "+" if delta > 0 else ""
    return f'<td class="num {cls}">{sign}{escape(form.format(delta))}</td>'


def _legend(runs: Sequence[RunFile]) -> str:
    items = "".join(
        f'<span style="background:{COLORS[i]}"></span>{escape(name)}'
        for i, name in enumerate(_names(runs))
    )
    return f'<p class="legend">{items}</p>'


def _field_section(runs: Sequence[RunFile]) -> str:
    labels = sorted({name for r in runs for name in r.aggregates.fields})
    if not labels:
        return "<h2>Field scores</h2><p>No field scores.</p>"
    series = [
        Series(name, [r.aggregates.fields.get(label, 0.0) for label in labels])
        for name, r in zip(_names(runs), runs, strict=True)
    ]
    chart = score_bars(labels, series, "Mean score per field")
    lists = sorted({name for r in runs for name in r.aggregates.lists})
    rows = [
        f"<tr><th>{escape(name)}</th>" + "".join(_list_cells(r, name) for r in runs) + "</tr>"
        for name in lists
    ]
    head = f"<tr><th>list</th>{'<th>P / R / F1</th>' * len(runs)}</tr>"
    table = f"<table>{head}{''.join(rows)}</table>" if lists else ""
    return f'<h2>Field scores</h2><div id="fields">{chart}</div>{table}'


def _list_cells(run: RunFile, name: str) -> str:
    figures = run.aggregates.lists.get(name)
    if figures is None:
        return "<td>-</td>"
    text = f"{figures.precision:.3f} / {figures.recall:.3f} / {figures.f1:.3f}"
    return f'<td class="num">{text}</td>'


def _distributions(runs: Sequence[RunFile]) -> str:
    names = _names(runs)
    latency = [Series(n, [c.latency_ms for c in r.cases]) for n, r in zip(names, runs, strict=True)]
    tokens = [
        Series(n, [float(c.tokens) for c in r.cases]) for n, r in zip(names, runs, strict=True)
    ]
    return (
        '<h2>Latency and tokens per case</h2><div id="distributions">'
        + _figure(histogram(latency, "Latency per case", "ms"), "Latency per case (ms)")
        + _figure(
            histogram(tokens, "Tokens per case", "tokens"),
            "Tokens per case (prompt and completion)",
        )
        + "</div>"
    )


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}: cases per range</figcaption></figure>"


def _tag_section(runs: Sequence[RunFile]) -> str:
    tags = sorted({tag for r in runs for tag in r.aggregates.tags})
    if not tags:
        return ""
    rows = []
    for tag in tags:
        cells = []
        for r in runs:
            f = r.aggregates.tags.get(tag)
            cells.append(
                f'<td class="num">{f.score:.3f} ({f.passed}/{f.cases})</td>' if f else "<td>-</td>"
            )
        rows.append(f"<tr><th>{escape(tag)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{n}: score (passed)</th>" for n in _names(runs))
    return f'<h2>Per tag</h2><table id="tags"><tr><th>tag</th>{head}</tr>{"".join(rows)}</table>'


def _verdict(comparison: Comparison) -> list[str]:
    if not comparison.regressed:
        return ['<p id="verdict">No regression.</p>']
    broken = ", ".join(change.id for change in comparison.broken)
    text = "Regression: " + (
        f"overall score {comparison.base_score:.3f} to {comparison.new_score:.3f}. "
        + (f"Cases that passed and now fail: {broken}." if broken else "")
    )
    return [f'<p id="verdict" class="warn">{escape(text)}</p>']


def _changes(comparison: Comparison) -> list[str]:
    rows = []
    for change in comparison.cases:
        if change.status == "same" and not change.broke:
            continue
        fields = "; ".join(f"{n} {b:.2f} to {a:.2f}" for n, (b, a) in change.field_deltas().items())
        rows.append(
            f"<tr><td>{escape(change.status)}{' (fails now)' if change.broke else ''}</td>"
            f'<th>{escape(change.id)}</th><td class="num">{change.base.score:.3f}</td>'
            f'<td class="num">{change.new.score:.3f}</td>{_delta_cell(change.delta)}'
            f"<td>{escape(fields)}</td></tr>"
        )
    if not rows:
        return ["<h2>Changed cases</h2><p>No case changed.</p>"]
    head = "".join(f"<th>{h}</th>" for h in ("change", "case", "base", "new", "delta", "fields"))
    head = f"<tr>{head}</tr>"
    return [f'<h2>Changed cases</h2><table id="changes">{head}{"".join(rows)}</table>']


def _worst_section(run: RunFile, base: RunFile | None) -> str:
    cases = worst(run.cases)
    if not cases:
        return '<h2>Worst cases</h2><p id="worst">Every case passed.</p>'
    earlier = {(c.id, c.repeat): c for c in base.cases} if base is not None else {}
    blocks = [_case_block(case, earlier.get((case.id, case.repeat))) for case in cases]
    return f'<h2>Worst cases</h2><div id="worst">{"".join(blocks)}</div>'


def _case_block(case: CaseResult, before: CaseResult | None) -> str:
    expected = case.expected if case.expected_error is None else {"error": case.expected_error}
    panes = [("expected", expected), ("got", _got(case))]
    if before is not None:
        panes.append(("got in the base run", _got(before)))
    side = "".join(
        f"<div><h4>{escape(label)}</h4><pre>{_json(value)}</pre></div>" for label, value in panes
    )
    low = ", ".join(f"{n} {s:.2f}" for n, s in sorted(case.fields.items()) if s < 1)
    return (
        f'<div class="case"><h3>{escape(case.id)} (repeat {case.repeat}): score '
        f"{case.score:.3f}, {escape(case.outcome)}</h3>"
        f"<p>tags: {escape(', '.join(case.tags) or 'none')}; "
        f"low fields: {escape(low or 'none')}</p>"
        f"<h4>input</h4><pre>{_json(case.input)}</pre>"
        f'<div class="side">{side}</div></div>'
    )


def _got(case: CaseResult) -> object:
    if case.error is not None:
        return {"error": case.error, "message": case.error_message}
    return case.output


def _json(value: object) -> str:
    return escape(json.dumps(value, indent=2, ensure_ascii=False, default=str))
