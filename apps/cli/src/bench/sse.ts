/**
 * An incremental parser of a `text/event-stream` body, as the WHATWG HTML standard defines it
 * ("Server-sent events", §9.2.6 Interpreting an event stream): lines end with CRLF, LF or CR; a line
 * starting with ":" is a comment; `data:` lines (one optional space after the colon) accumulate,
 * joined by LF; a blank line dispatches the event. Only the data of each event is returned: that is
 * all the OpenAI streaming API uses. Chunks may split a line (or a CRLF) anywhere.
 */
export class SseParser {
  private pending = "";
  private data: string[] = [];

  /** Feed decoded text; returns the data of every event completed by it, in order. */
  push(text: string): string[] {
    const out: string[] = [];
    let buf = this.pending + text;
    // A trailing CR may be the first half of a CRLF: keep it until the next chunk says.
    const holdCr = buf.endsWith("\r");
    if (holdCr) buf = buf.slice(0, -1);
    const lines = buf.split(/\r\n|\r|\n/);
    this.pending = (lines.pop() ?? "") + (holdCr ? "\r" : "");
    for (const line of lines) this.line(line, out);
    return out;
  }

  /** The body ended: a last event without its blank line is dropped, as the standard says. */
  end(): string[] {
    const out: string[] = [];
    const rest = this.pending.replace(/\r$/, "");
    if (this.pending.endsWith("\r")) this.line(rest, out);
    this.pending = "";
    this.data = [];
    return out;
  }

  private line(line: string, out: string[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}
