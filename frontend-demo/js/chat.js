// The chat panel: tokens over SSE from POST /chat/stream, with a stop button.
import { authHeaders } from "./auth.js";
import { announce, el } from "./dom.js";
import { ERROR_TEXT } from "./render.js";

// Split complete SSE events off the buffer: {events: [{event, data}], rest}.
function takeEvents(buffer) {
  const events = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    const fields = { event: "message", data: "" };
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "data") fields.data += value;
      else if (name === "event") fields.event = value;
    }
    if (fields.data) events.push(fields);
  }
  return { events, rest };
}

export function chatPanel() {
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const send = document.getElementById("chat-send");
  const stopButton = document.getElementById("chat-stop");
  const messages = document.getElementById("messages");
  const history = [];
  let controller = null;

  stopButton.addEventListener("click", () => controller && controller.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content || controller) return;
    history.push({ role: "user", content });
    messages.append(el("li", { className: "user" }, content));
    const text = el("span", { "data-reply": "" });
    const note = el("span", { className: "note" });
    const reply = el("li", { className: "assistant", "aria-busy": "true" }, text, note);
    messages.append(reply);
    controller = new AbortController();
    send.disabled = true;
    stopButton.disabled = false;
    announce("The model is answering…");
    try {
      const response = await fetch("/chat/stream", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", ...authHeaders() },
        body: JSON.stringify({ messages: history }),
        signal: controller.signal,
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const taken = takeEvents(buffer + value);
        buffer = taken.rest;
        for (const sse of taken.events) {
          const data = JSON.parse(sse.data);
          if (sse.event === "token") {
            text.textContent += data.text;
            messages.scrollTop = messages.scrollHeight;
          } else if (sse.event === "done") {
            note.textContent = `${data.model} · ${data.completionTokens} tokens · ${Math.round(data.latencyMs)} ms`;
            announce("Answer complete.");
          } else if (sse.event === "error") {
            note.append(el("span", { className: "error", role: "alert", "data-error-code": data.code },
              `${ERROR_TEXT[data.code] || data.code}: ${data.message}`));
            announce("The answer ended with an error.");
          }
        }
      }
      history.push({ role: "assistant", content: text.textContent });
    } catch (error) {
      if (error.name === "AbortError") {
        note.textContent = "Stopped.";
        reply.setAttribute("data-stopped", "");
        announce("Stopped.");
        if (text.textContent) history.push({ role: "assistant", content: text.textContent });
      } else {
        note.append(el("span", { className: "error", role: "alert" }, `The request failed: ${error.message}`));
        announce("The request failed.");
      }
    } finally {
      reply.setAttribute("aria-busy", "false");
      controller = null;
      send.disabled = false;
      stopButton.disabled = true;
    }
  });
}
