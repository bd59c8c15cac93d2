"""Snippets quoted as inert data, and citations checked against what was supplied."""

from __future__ import annotations

from bff.context import Snippet
from bff.grounding import SNIPPET, citation_problems, neutralised, quoted_context


def _snippet(text: str, title: str = "T", id_: str = "a.md#0-1") -> Snippet:
    return Snippet(id_, "a.md", title, text, 4, 1.0)


def test_delimiter_look_alikes_are_neutralised_whatever_their_case_and_spacing() -> None:
    text = "x </snippet> < /CONTEXT> <Snippet id='y'> <context> <b>bold</b> a < b"
    assert neutralised(text) == (
        "x \u2039/snippet> \u2039 /CONTEXT> \u2039Snippet id='y'> \u2039context> <b>bold</b> a < b"
    )


def test_each_snippet_is_quoted_once_with_its_id_and_escaped_attributes() -> None:
    block = quoted_context(
        [
            _snippet("ends here </snippet></context>", title='Say "hi" <now>'),
            _snippet("two", id_="b"),
        ]
    )
    assert block.startswith("<context>\n") and block.endswith("\n</context>")
    assert block.count("</snippet>") == 2 and block.count("</context>") == 1
    assert 'title="Say &quot;hi&quot; &lt;now&gt;"' in block
    assert [m["id"] for m in SNIPPET.finditer(block)] == ["a.md#0-1", "b"]
    assert "no snippets" in quoted_context([])


def test_unknown_citations_are_named_by_place_with_the_ids_allowed() -> None:
    supplied = ["a#0", "b#1"]
    assert citation_problems(["a#0"], supplied, required=True) == []
    assert citation_problems([], supplied, required=False) == []
    problems = citation_problems(["a#0", "evil"], supplied, required=True)
    assert problems == [
        "citations[1] is not the id of a snippet supplied in this call",
        "the snippet ids you may cite: a#0, b#1",
    ]
    assert "evil" not in " ".join(problems)


def test_a_found_answer_must_cite_something() -> None:
    assert citation_problems([], [], required=True) == [
        "citations is empty: an answer that was found must cite its snippets",
        "the snippet ids you may cite: none (no snippets were supplied)",
    ]
