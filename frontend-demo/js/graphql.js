// GraphQL over HTTP (queries) and over graphql-transport-ws (subscriptions). Operations
// are sent by their trusted-document id, so the page also works where the server runs
// trusted documents only.
import { authHeaders, connectionParams } from "./auth.js";

export async function query(operation, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json",
      ...authHeaders() },
    body: JSON.stringify({ documentId: operation.id, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

// Start one subscription; onEvent gets each payload, onEnd(error?) once at the end.
// Returns stop(), which completes the subscription (the server cancels the run).
export function subscribe(operation, variables, onEvent, onEnd) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
  let ended = false;
  const end = (error) => {
    if (ended) return;
    ended = true;
    onEnd(error);
    if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
  };
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: connectionParams() }));
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === "connection_ack") {
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { documentId: operation.id, variables } }));
    } else if (frame.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (frame.type === "next") {
      if (frame.payload.errors) end(new Error(frame.payload.errors.map((e) => e.message).join("; ")));
      else onEvent(Object.values(frame.payload.data)[0]);
    } else if (frame.type === "error") {
      end(new Error(frame.payload.map((e) => e.message).join("; ")));
    } else if (frame.type === "complete") {
      end();
    }
  };
  socket.onerror = () => end(new Error("the connection to the server failed"));
  socket.onclose = (event) => end(ended ? undefined : new Error(event.code === 4401
    ? "this server needs an API key: enter it at the top of the page"
    : "the server closed the connection"));
  return () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: "1", type: "complete" }));
    end(new Error("stopped"));
  };
}
