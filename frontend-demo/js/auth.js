// The caller's API key, when the server asks for one: kept for this tab only.
const KEY = "bff-api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

// Headers that carry the key on HTTP requests (none without a key).
export function authHeaders() {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

// The connection_init payload that carries the key on a WebSocket.
export function connectionParams() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// The key field in the header: filled from this tab's key, saved on change.
export function keyField() {
  const input = document.getElementById("api-key");
  input.value = apiKey();
  input.addEventListener("change", () => setApiKey(input.value.trim()));
}
