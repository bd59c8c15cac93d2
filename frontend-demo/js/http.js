// Reading the server's answers: JSON bodies, and the server's own words when it refuses.

// The message of an error body: GraphQL's `errors`, or the `{"error": {code, message}}`
// of the other routes (docs/api.md). Empty when the body carries neither.
export function errorMessage(body) {
  if (body && Array.isArray(body.errors) && body.errors.length) {
    return body.errors.map((e) => e.message).join("; ");
  }
  if (body && body.error && body.error.message) return body.error.message;
  return "";
}

// The Error for a refused request: the server's message, or the status when the body
// says nothing a person can read.
export async function failure(response) {
  const body = await response.json().catch(() => undefined);
  return new Error(errorMessage(body) || `HTTP ${response.status}`);
}

// The JSON body of a successful response; a refusal throws its failure().
export async function readJson(response) {
  if (!response.ok) throw await failure(response);
  return response.json().catch(() => {
    throw new Error("the server's answer is not JSON");
  });
}
