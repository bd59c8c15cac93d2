// text/event-stream, parsed as the WHATWG HTML standard says (§9.2.6), from decoded text
// that arrives in arbitrary pieces.

const LINE_END = /\r\n|\r|\n/;

export class EventStreamParser {
  #line = ""; // the start of a line whose end has not arrived
  #afterCR = false; // the last piece ended with CR: a LF opening the next one belongs to it
  #type = "";
  #data = "";
  #id = null; // the id field of the event being read, if it has one
  #lastId = ""; // the standard's last event ID buffer: kept from event to event

  // The id of the last event that named one ("" before any): what a reconnection sends
  // as Last-Event-ID.
  get lastEventId() {
    return this.#lastId;
  }

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
    else if (name === "id" && !value.includes("\0")) this.#id = this.#lastId = value;
    // `retry` serves an EventSource's own reconnection, which this page does itself:
    // ignored, like any unknown field.
    return null;
  }

  // An event: {type, data}, and its own `id` when it has an id field.
  #dispatch() {
    let event = null;
    if (this.#data !== "") {
      event = { type: this.#type || "message", data: this.#data.slice(0, -1) };
      if (this.#id !== null) event.id = this.#id;
    }
    this.#type = "";
    this.#data = "";
    this.#id = null;
    return event;
  }
}
