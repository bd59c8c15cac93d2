"""The demo page's answerFromDocs panel in headless Chromium, against `bff serve` on the
offline demo model: an answer with its citations, the "not found" state, and snippet
text that renders as text."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ServeFactory, Shots

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_TEXT = "The keeper trims the wick <script>alert(2)</script> at dusk."


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#status")).to_have_text("Ready.")


def _ask(page: Page, question: str | None = None) -> None:
    if question is not None:
        page.fill("#task-answerFromDocs-question", question)
    page.click("[data-run=answerFromDocs]")
    expect(page.locator("[data-result=answerFromDocs]")).to_have_attribute(
        "data-typename", "DocsAnswerResult"
    )


def test_the_sample_question_is_answered_with_citations_from_the_handbook(
    page: Page, serve: ServeFactory, shots: Shots
) -> None:
    _open(page, serve())
    panel = page.locator("#docs-panel")
    question = panel.locator("#task-answerFromDocs-question")
    assert "refund" in question.input_value()
    _ask(page)
    result = panel.locator("[data-result=answerFromDocs]")
    expect(result.locator("[data-answer]")).to_contain_text("refunded in full within 30 days")
    citations = result.locator("[data-citations] li")
    expect(citations).to_have_count(1)
    snippet_id = citations.first.get_attribute("data-snippet-id") or ""
    assert snippet_id.startswith("billing/refunds.md#")
    assert citations.first.get_attribute("title") == snippet_id
    expect(citations.first.locator("[data-cite-title]")).to_have_text("Refunds \u203a Annual plans")
    expect(citations.first.locator("[data-cite-source]")).to_have_text("billing/refunds.md")
    expect(result.locator("[data-context]")).to_have_text(
        re.compile(r"^Context supplied: [1-5] snippets?, \d+ tokens?\.$")
    )
    supplied = (result.locator("[data-context]").get_attribute("title") or "").split("\n")
    assert supplied[0] == snippet_id  # the demo model cites the best snippet
    expect(result.locator("[data-not-found]")).to_have_count(0)
    expect(page.locator("#status")).to_have_text("answerFromDocs: validated result ready.")
    shots.take("answered")
    # a question the handbook cannot answer: the typed "not found", citing nothing
    _ask(page, "Zyxquv plorblat?")
    expect(result.locator("[data-not-found]")).to_have_text(
        "Not found: the handbook does not answer this question."
    )
    expect(result.locator("[data-citations]")).to_have_count(0)
    expect(result.locator("[data-context]")).to_have_text("Context supplied: 0 snippets, 0 tokens.")
    shots.take("not-found")


def test_snippet_titles_and_text_render_as_text(
    page: Page, serve: ServeFactory, shots: Shots, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lamp.md").write_text(f"# {XSS_TITLE}\n\n{XSS_TEXT} It smokes otherwise.\n")
    url = serve(BFF_CORPUS_PATH=str(corpus),
                BFF_CONTEXT_INDEX_PATH=str(tmp_path / "index.sqlite3"))  # fmt: skip
    _open(page, url)
    _ask(page, "When does the keeper trim the wick?")
    result = page.locator("[data-result=answerFromDocs]")
    expect(result.locator("[data-answer]")).to_have_text(f"{XSS_TEXT} It smokes otherwise.")
    expect(result.locator("[data-cite-title]")).to_have_text(XSS_TITLE)
    expect(result.locator("[data-cite-source]")).to_have_text("lamp.md")
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    shots.take("inert-markup")
