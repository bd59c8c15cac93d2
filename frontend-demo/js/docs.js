// The answerFromDocs result: the answer, the handbook snippets it cites (title and
// source, the snippet's id as a tooltip), a clear "not found", and the context supplied.
import { el } from "./dom.js";
import { renderMeta } from "./render.js";

export const DOCS_TASK = "answerFromDocs";
export const SAMPLE_QUESTION = "Can I get a refund on an annual plan?";

const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

function citation(snippet) {
  return el("li", { "data-snippet-id": snippet.id, title: snippet.id },
    el("span", { className: "cite-title", "data-cite-title": "" }, snippet.title),
    " — ",
    el("code", { className: "cite-source", "data-cite-source": "" }, snippet.source));
}

// The nodes for a DocsAnswerResult.
export function renderDocsAnswer(result) {
  const { docsAnswer, citedSnippets, meta } = result;
  // The ids supplied, best first, as a tooltip: what the answer could have cited.
  const context = el("p", { className: "hint", "data-context": "", title: meta.contextSnippets.join("\n") || null },
    `Context supplied: ${plural(meta.contextSnippets.length, "snippet", "snippets")}, `
    + `${plural(meta.contextTokens, "token", "tokens")}.`);
  if (!docsAnswer.found) {
    return [
      el("p", { className: "not-found", "data-not-found": "" },
        "Not found: the handbook does not answer this question."),
      el("p", { className: "hint", "data-answer": "" }, docsAnswer.answer),
      context,
      renderMeta(meta),
    ];
  }
  return [
    el("blockquote", { className: "answer", "data-answer": "" }, docsAnswer.answer),
    el("h4", { id: "docs-citations-title" }, "Sources"),
    el("ol", { className: "citations", "aria-labelledby": "docs-citations-title", "data-citations": "" },
      citedSnippets.map(citation)),
    context,
    renderMeta(meta),
  ];
}
