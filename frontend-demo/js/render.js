// Validated results as tables and cards; run metadata; error codes in words.
import { el, humanize } from "./dom.js";

// The sentence for each error code, in the server's words (Query.errorCodes): a function
// from a code to its sentence, capitalized, or to the code itself if the server has none.
export function errorSentences(errorCodes) {
  const sentences = new Map(errorCodes.map(({ code, message }) =>
    [code, message.charAt(0).toUpperCase() + message.slice(1)]));
  return (code) => sentences.get(code) || code;
}

function isRecord(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function scalar(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

export function renderValue(value, caption) {
  if (Array.isArray(value)) {
    if (value.length === 0) return el("p", { className: "hint" }, `No ${caption ? caption.toLowerCase() : "items"}.`);
    if (value.every(isRecord)) {
      const columns = [...new Set(value.flatMap((row) => Object.keys(row)))];
      return el("table", {},
        caption ? el("caption", {}, caption) : null,
        el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, humanize(c))))),
        el("tbody", {}, value.map((row) => el("tr", {}, columns.map((c) => el("td", {}, cell(row[c])))))));
    }
    return el("ul", {}, value.map((item) => el("li", {}, scalar(item))));
  }
  if (isRecord(value)) {
    return el("dl", { className: "card" },
      Object.entries(value).flatMap(([key, item]) => [el("dt", {}, humanize(key)), el("dd", {}, cell(item))]));
  }
  return el("span", {}, scalar(value));
}

function cell(value) {
  return Array.isArray(value) || isRecord(value) ? renderValue(value) : scalar(value);
}

export function renderMeta(meta) {
  const items = [
    ["Model", meta.model],
    ["Attempts", meta.attempts],
    ["Fallback", meta.fallback],
    ["Tokens", `${meta.promptTokens} in / ${meta.completionTokens} out`],
    ["Latency", `${Math.round(meta.latencyMs)} ms`],
  ];
  if (meta.costUsd) items.push(["Cost", `$${meta.costUsd.toFixed(6)}`]);
  if (meta.toolCalls) items.push(["Tool calls", meta.toolCalls]);
  const redacted = (meta.redactions || []).map((r) => `${r.count} ${r.kind}`).join(", ");
  if (redacted) items.push(["Redacted", redacted]);
  return el("dl", { className: "meta", "aria-label": "Run details" },
    items.map(([name, value]) => el("div", {}, el("dt", {}, name), el("dd", { "data-meta": name.toLowerCase() }, String(value)))));
}
