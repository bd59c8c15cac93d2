// GraphQL over HTTP (queries) and over graphql-transport-ws (subscriptions). Operations
// are sent by their trusted-document id, so the page also works where the server runs
// trusted documents only.
import { authHeaders, connectionParams } from "./auth.js";
import { errorMessage, readJson } from "./http.js";

// The operation's data; a refusal or a GraphQL error throws the server's message.
export async function query(operation, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json",
      ...authHeaders() },
    body: JSON.stringify({ documentId: operation.id, variables }),
  });
  const body = await readJson(response);
  const message = errorMessage(body);
  if (message) throw new Error(message);
  if (!body.data) throw new Error("the server's answer has no data");
  return body.data;
}

// Start one subscription: onEvent gets each payload, onEnd(error?) is called once at the
// end. Aborting `signal` completes the subscription (the server cancels the run) and ends
// it without an error: the caller knows it asked.
export function subscribe(operation, variables, { signal, onEvent, onEnd }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
  let ended = false;
  const end = (error) => {
    if (ended) return;
    ended = true;
    signal.removeEventListener("abort", stop);
    onEnd(error);
    if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
  };
  const stop = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: "1", type: "complete" }));
    end();
  };
  signal.addEventListener("abort", stop, { once: true });
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: connectionParams() }));
  socket.onmessage = (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      end(new Error("the server sent a frame that is not JSON"));
      return;
    }
    if (frame.type === "connection_ack") {
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { documentId: operation.id, variables } }));
    } else if (frame.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (frame.type === "next") {
      if (frame.payload.errors) end(new Error(errorMessage(frame.payload) || "the operation failed"));
      else onEvent(Object.values(frame.payload.data)[0]);
    } else if (frame.type === "error") {
      end(new Error(errorMessage({ errors: frame.payload }) || "the server refused the operation"));
    } else if (frame.type === "complete") {
      end();
    }
  };
  socket.onerror = () => end(new Error("the connection to the server failed"));
  socket.onclose = (event) => end(new Error(event.code === 4401
    ? "this server needs an API key: enter it at the top of the page"
    : "the server closed the connection"));
}
