"""Any text is a query: FTS5 syntax, quotes, junk and odd Unicode find snippets or nothing,
and never raise."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bff.context import FtsIndex, terms
from bff.context.query import MAX_TERMS, match_expression, query_words
from bff.context.terms import MATCH_CAP, plan

HOSTILE = [
    "",
    " ",
    '"',
    '""',
    '"refund',
    "*",
    "refund*",
    "NEAR(",
    "NEAR(refund annual, 2)",
    "OR",
    "AND",
    "NOT",
    "refund OR",
    "OR refund NOT",
    "(",
    ")))",
    "{title}: refund",
    "title:refund",
    "^refund",
    "-refund +annual",
    "' OR 1=1 --",
    "refund; DROP TABLE chunks; --",
    "\x00",
    "refund\x00annual",
    "\ud800refund",  # a lone surrogate, as JSON can carry
    "🙂🙂🙂",
    "数据保留",
    "café crème",
    "e\u0301te\u0301",  # combining accents
    "x" * 10_000,
    "refund " * 2_000,
    " ".join(f"w{n}" for n in range(3_000)),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_return_a_list(index: FtsIndex, query: str) -> None:
    found = index.search(query, 5)
    assert isinstance(found, list) and len(found) <= 5


def test_syntax_words_are_plain_words(index: FtsIndex) -> None:
    assert index.search('NEAR("refund" annual)', 1)[0].source == "billing/refunds.md"
    assert index.search("refund OR", 1)[0].source == "billing/refunds.md"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_any_text_is_a_valid_query(index: FtsIndex, query: str) -> None:
    assert isinstance(index.search(query, 3), list)


def test_query_words_drop_stop_words_repeats_and_syntax() -> None:
    assert query_words('How do I get a "refund" OR a REFUND* (annual)?') == [
        "get",
        "refund",
        "annual",
    ]
    assert query_words("x" * 65) == []  # no word that long is in an index
    assert len(query_words(" ".join(f"w{n}" for n in range(100)))) == MAX_TERMS


def test_match_expression_quotes_every_word() -> None:
    assert match_expression(["or", "near"]) == '"or" OR "near"'
    assert match_expression(['a"b']) == '"a""b"'
    assert match_expression(["x"], titles_only=True) == '{title} : ("x")'


def test_common_words_are_left_out_of_large_searches() -> None:
    words = ["rare", "mid", "common", "everywhere", "absent"]
    chunks = 30_000
    found = plan(words, [50, 2_000, 8_000, 20_000, 0], chunks)
    assert found is not None and (found.words, found.titles_only) == (["rare", "mid"], False)
    only_common = plan(["common", "everywhere"], [8_000, 20_000], chunks)
    assert only_common is not None
    assert (only_common.words, only_common.titles_only) == (["common"], True)
    assert plan(["everywhere"], [20_000], chunks) is None
    assert plan(["absent"], [0], chunks) is None


def test_a_small_corpus_searches_every_word() -> None:
    found = plan(["a", "b", "c"], [150, 190, 30], 200)  # b is in 95% of the chunks
    assert found is not None and (found.words, found.titles_only) == (["a", "b", "c"], False)
    assert MATCH_CAP > 200


def test_a_query_of_common_words_searches_titles_only(
    index: FtsIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    everywhere = {s.source for s in index.search("plans", 10)}
    assert everywhere == {"billing/refunds.md", "billing/invoices.md"}
    monkeypatch.setattr(terms, "MATCH_CAP", 1)  # "plans" is in 3 of the 8 chunks
    titled = index.search("plans", 10)
    assert {s.title for s in titled} == {
        "Refunds \u203a Annual plans",
        "Refunds \u203a Monthly plans",
    }
