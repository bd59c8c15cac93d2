// The chat panel: tokens over SSE from POST /chat/stream, with a stop button.
import { authHeaders } from "./auth.js";
import { announce, el } from "./dom.js";
import { failure } from "./http.js";
import { EventStreamParser } from "./sse.js";

// An event's data: a JSON object, or an Error saying the frame is bad.
function frameData(sse) {
  let data;
  try {
    data = JSON.parse(sse.data);
  } catch {
    data = undefined;
  }
  if (data === null || typeof data !== "object") {
    throw new Error(`the server sent a ${sse.type} event whose data is not a JSON object`);
  }
  return data;
}

// Reads the stream's events into the reply up to its terminal event (`done` or `error`).
// A bad frame, or a stream that ends before a terminal event, throws: the answer is
// incomplete, and the page must not pass it off as whole.
async function readReply(response, { onToken, onDone, onError }) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before the answer was complete");
      for (const sse of parser.push(value)) {
        if (sse.type === "token") {
          onToken(String(frameData(sse).text ?? ""));
        } else if (sse.type === "done") {
          onDone(frameData(sse));
          return;
        } else if (sse.type === "error") {
          onError(frameData(sse));
          return;
        }
      }
    }
  } finally {
    // Closes the connection when the reply ended early or went wrong.
    reader.cancel().catch(() => {});
  }
}

// `errorText(code)` is the sentence for an error code (render.js errorSentences).
export function chatPanel(errorText) {
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
    const { signal } = controller;
    send.disabled = true;
    stopButton.disabled = false;
    announce("The model is answering…");
    try {
      const response = await fetch("/chat/stream", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", ...authHeaders() },
        body: JSON.stringify({ messages: history }),
        signal,
      });
      if (!response.ok) throw await failure(response);
      await readReply(response, {
        onToken: (token) => {
          text.textContent += token;
          messages.scrollTop = messages.scrollHeight;
        },
        onDone: (done) => {
          note.textContent = `${done.model} · ${done.completionTokens} tokens · ${Math.round(done.latencyMs)} ms`;
          announce("Answer complete.");
        },
        onError: (error) => {
          note.append(el("span", { className: "error", role: "alert", "data-error-code": error.code },
            `${errorText(error.code)}: ${error.message}`));
          announce("The answer ended with an error.");
        },
      });
    } catch (error) {
      if (signal.aborted) {
        note.textContent = "Stopped.";
        reply.setAttribute("data-stopped", "");
        announce("Stopped.");
      } else {
        note.append(el("span", { className: "error", role: "alert", "data-failed": "" },
          `The request failed: ${error.message}`));
        announce("The request failed.");
      }
    } finally {
      if (text.textContent) history.push({ role: "assistant", content: text.textContent });
      reply.setAttribute("aria-busy", "false");
      controller = null;
      send.disabled = false;
      stopButton.disabled = true;
    }
  });
}
