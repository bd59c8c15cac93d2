// The chat panel: tokens over SSE from POST /chat/stream, with a stop button. A stream
// cut before its end (a network drop) is resumed from GET /chat/stream/{id}, after the
// last event the page has, so no text is lost or shown twice.
import { authHeaders } from "./auth.js";
import { announce, el } from "./dom.js";
import { failure } from "./http.js";
import { EventStreamParser } from "./sse.js";

const RESUME_DELAYS_MS = [250, 500, 1000, 2000, 4000]; // one resume try after each

// What no resume can mend: a refusal, or a frame the server should never send.
class Final extends Error {}

// An event's data: a JSON object, or a Final error.
function frameData(sse) {
  let data;
  try {
    data = JSON.parse(sse.data);
  } catch {
    data = undefined;
  }
  if (data === null || typeof data !== "object") {
    throw new Final(`the server sent a ${sse.type} event whose data is not a JSON object`);
  }
  return data;
}

// The number an event's own id field gives it, or null (no id, or not a number).
function eventNumber(sse) {
  return sse.id !== undefined && /^\d{1,15}$/.test(sse.id) ? Number(sse.id) : null;
}

// Reads one response's events into the reply up to its terminal event (`done` or
// `error`), skipping any event it already has (`state.last`: the last event number
// read). A bad frame, or a body that ends before a terminal event, throws.
async function readEvents(response, state, { onToken, onDone, onError }) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before the answer was complete");
      for (const sse of parser.push(value)) {
        const number = eventNumber(sse);
        if (number !== null && number <= state.last) continue; // already shown
        if (number !== null) state.last = number;
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

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// Reads the rest of stream `state.id` after its event `state.last`. A refusal other than
// a 503 (a 404: the stream is gone) is final.
async function resume(state, signal, handlers) {
  const response = await fetch(`/chat/stream/${encodeURIComponent(state.id)}`, {
    headers: { accept: "text/event-stream", "last-event-id": String(state.last), ...authHeaders() },
    signal,
  });
  if (!response.ok) {
    const refusal = await failure(response);
    throw response.status === 503 ? refusal : new Final(refusal.message);
  }
  await readEvents(response, state, handlers);
}

// Reads the reply from `response` and, after a drop, from the stream `state.id` where it
// stopped: after a short pause, a few times in a row at most (the count starts again
// whenever a try brings new events). `onResuming` hears of each try.
async function readReply(response, state, signal, handlers) {
  let read = () => readEvents(response, state, handlers);
  for (let tries = 0; ; ) {
    const before = state.last;
    try {
      await read();
      return;
    } catch (error) {
      if (state.last > before) tries = 0;
      const final = !state.id || signal.aborted || error instanceof Final;
      if (final || tries >= RESUME_DELAYS_MS.length) throw error;
    }
    handlers.onResuming();
    await pause(RESUME_DELAYS_MS[tries++], signal);
    read = () => resume(state, signal, handlers);
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
  let stream = null; // the stream being read: {id, last}

  // Stop: abort the request, and cancel the run (a dropped connection alone leaves the
  // server a grace period for the page to resume it).
  stopButton.addEventListener("click", () => {
    if (!controller) return;
    controller.abort();
    if (stream && stream.id) {
      fetch(`/chat/stream/${encodeURIComponent(stream.id)}`, {
        method: "DELETE", headers: authHeaders(), keepalive: true,
      }).catch(() => {});
    }
  });
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
    const state = (stream = { id: null, last: 0 });
    // A "Reconnecting…" note goes once events flow again.
    const resumed = () => {
      if (!reply.hasAttribute("data-resuming")) return;
      reply.removeAttribute("data-resuming");
      note.textContent = "";
    };
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
      state.id = response.headers.get("bff-stream-id");
      await readReply(response, state, signal, {
        onResuming: () => {
          reply.setAttribute("data-resuming", "");
          note.textContent = "Reconnecting…";
          announce("The connection dropped: resuming the answer…");
        },
        onToken: (token) => {
          resumed();
          text.textContent += token;
          messages.scrollTop = messages.scrollHeight;
        },
        onDone: (done) => {
          resumed();
          note.textContent = `${done.model} · ${done.completionTokens} tokens · ${Math.round(done.latencyMs)} ms`;
          announce("Answer complete.");
        },
        onError: (error) => {
          resumed();
          note.append(el("span", { className: "error", role: "alert", "data-error-code": error.code },
            `${errorText(error.code)}: ${error.message}`));
          announce("The answer ended with an error.");
        },
      });
    } catch (error) {
      resumed();
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
      stream = null;
      send.disabled = false;
      stopButton.disabled = true;
    }
  });
}
