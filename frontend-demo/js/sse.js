// text/event-stream, parsed as the WHATWG HTML standard says (§9.2.6), from decoded text
// that arrives in arbitrary pieces.

const LINE_END = /\r\n|\r|\n/;

export class EventStreamParser {
  #line = ""; // the start of a line whose end has not arrived
  #afterCR = false; // the last piece ended with CR: a LF opening the next one belongs to it
  #type = "";
  #data = "";

  // The events the piece `text` completes: [{type, data}]. An event the stream ends in
  // the middle of (no blank line after it) is never returned, as the standard says.
  push(text) {
    if (!text) return [];
    const input = this.#afterCR && text.startsWith("\n") ? text.slice(1) : text;
    this.#afterCR = input.endsWith("\r");
    const lines = (this.#line + input).split(LINE_END);
    this.#line = lines.pop();
    return lines.map((line) => this.#take(line)).filter((event) => event !== null);
  }

  #take(line) {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null; // a comment: the server's keep-alive ping
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.#type = value;
    else if (name === "data") this.#data += `${value}\n`;
    // `id` and `retry` serve an EventSource's reconnection, which this page never does:
    // ignored, like any unknown field.
    return null;
  }

  #dispatch() {
    const event = this.#data === "" ? null : { type: this.#type || "message", data: this.#data.slice(0, -1) };
    this.#type = "";
    this.#data = "";
    return event;
  }
}
