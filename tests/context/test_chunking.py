"""Chunks follow headings, merge small paragraphs, and never pass the cap."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bff.context.chunking import Chunk, chunk_text


def test_headings_give_each_chunk_its_chain() -> None:
    text = (
        "Intro before any heading.\n\n"
        "# Billing\n\nAbout billing.\n\n"
        "## Refunds\n\nWithin 30 days.\n\n"
        "### Annual plans\n\nIn full.\n\n"
        "## Invoices ##\n\nOn the first day.\n\n"
        "# Security\n\n#hashtag is not a heading.\n"
    )
    assert chunk_text(text) == [
        Chunk("", "Intro before any heading."),
        Chunk("Billing", "About billing."),
        Chunk("Billing \u203a Refunds", "Within 30 days."),
        Chunk("Billing \u203a Refunds \u203a Annual plans", "In full."),
        Chunk("Billing \u203a Invoices", "On the first day."),
        Chunk("Security", "#hashtag is not a heading."),
    ]


def test_a_bare_heading_makes_no_chunk_and_a_skipped_level_still_nests() -> None:
    text = "# Guide\n\n## Empty section\n\n#### Deep\n\nText.\n\n## Next\n\nMore.\n"
    assert chunk_text(text) == [
        Chunk("Guide \u203a Empty section \u203a Deep", "Text."),
        Chunk("Guide \u203a Next", "More."),
    ]


def test_small_paragraphs_under_one_heading_merge_up_to_the_cap() -> None:
    paragraphs = [f"Paragraph {n} " + "x" * 20 for n in range(10)]  # 32 characters each
    chunks = chunk_text("# Notes\n\n" + "\n\n".join(paragraphs), max_chars=100)
    assert (
        [c.text.split("\n\n") for c in chunks]
        == [
            paragraphs[0:3],  # 3 * 32 + 2 * 2 = 100: exactly the cap
            paragraphs[3:6],
            paragraphs[6:9],
            paragraphs[9:],
        ]
    )
    assert {c.title for c in chunks} == {"Notes"}


def test_paragraphs_never_merge_across_headings() -> None:
    chunks = chunk_text("# A\n\none\n\n# B\n\ntwo\n", max_chars=800)
    assert [(c.title, c.text) for c in chunks] == [("A", "one"), ("B", "two")]


def test_an_oversized_paragraph_is_cut_between_sentences() -> None:
    sentences = [f"Sentence number {n} says something." for n in range(12)]  # 34-35 chars
    chunks = chunk_text(" ".join(sentences), max_chars=120)
    assert all(len(c.text) <= 120 for c in chunks)
    assert len(chunks) > 1
    for chunk in chunks:  # every piece ends where a sentence ends
        assert chunk.text.endswith("something.")
    assert " ".join(c.text for c in chunks) == " ".join(sentences)


def test_a_sentence_over_the_cap_is_cut_between_words_or_at_the_cap() -> None:
    words = " ".join(["word"] * 50)  # 249 characters, no sentence break
    chunks = chunk_text(words, max_chars=100)
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.startswith("word") and c.text.endswith("word") for c in chunks)
    assert [len(c.text) for c in chunk_text("y" * 250, max_chars=100)] == [100, 100, 50]


def test_code_fences_keep_their_hashes_and_blank_lines() -> None:
    text = "# Setup\n\n```sh\n# not a heading\n\necho hi\n```\n\nAfter.\n"
    chunks = chunk_text(text)
    assert chunks == [Chunk("Setup", "```sh\n# not a heading\n\necho hi\n```\n\nAfter.")]


def test_empty_and_blank_text_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text("\n\n   \n# Only a heading\n") == []
    with pytest.raises(ValueError):
        chunk_text("text", max_chars=0)


_WORDS = st.text(alphabet="abcdefghij", min_size=1, max_size=30)
_PARAGRAPH = st.lists(
    st.tuples(_WORDS, st.sampled_from([" ", ". ", "! ", "\n", "? "])), min_size=1, max_size=60
).map(lambda parts: "".join(word + sep for word, sep in parts).strip())
_BLOCK = st.one_of(
    st.tuples(st.just("heading"), st.integers(1, 6), _WORDS),
    st.tuples(st.just("paragraph"), st.just(0), _PARAGRAPH),
)


@given(st.lists(_BLOCK, max_size=12), st.integers(min_value=20, max_value=400))
def test_chunks_are_capped_and_keep_every_character_in_order(
    blocks: list[tuple[str, int, str]], cap: int
) -> None:
    text = "\n\n".join("#" * level + " " + body if kind == "heading" else body
                       for kind, level, body in blocks)  # fmt: skip
    chunks = chunk_text(text, max_chars=cap)
    assert all(0 < len(c.text) <= cap for c in chunks)
    body = "".join(body for kind, _, body in blocks if kind == "paragraph")
    assert re.sub(r"\s", "", "".join(c.text for c in chunks)) == re.sub(r"\s", "", body)
