/**
 * An incremental parser for the `text/event-stream` format (the WHATWG "server-sent events"
 * interpretation rules). It is written here rather than using `EventSource` because the browser's
 * `EventSource` cannot send an `Authorization` header, and the dashboard must: the stream is read
 * with `fetch` and a body reader, and the bytes are fed to this parser chunk by chunk. Chunks may
 * split anywhere — inside a field, a line ending or a multi-byte UTF-8 character.
 */

export interface SseMessage {
  /** The `event:` field, or 'message' when absent. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  /** The last event id seen so far on the stream (the `id:` field), or null. */
  lastEventId: string | null;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private dataLines: string[] = [];
  private eventType = '';
  private lastId: string | null = null;
  /** The previous character was a CR: a LF right after it belongs to the same line ending. */
  private afterCr = false;
  /** Reconnection delay the server asked for with `retry:`, in milliseconds. */
  retryMs: number | null = null;

  /** Feeds one chunk and returns every message completed by it, in order. */
  push(chunk: Uint8Array | string): SseMessage[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  /** Ends the stream: flushes the decoder. A message without its closing blank line is dropped, as the format requires. */
  end(): SseMessage[] {
    this.buffer += this.decoder.decode();
    const out = this.drain(true);
    this.afterCr = false;
    this.dataLines = [];
    this.eventType = '';
    return out;
  }

  /** The id to send as `Last-Event-ID` when reconnecting. */
  get lastEventId(): string | null {
    return this.lastId;
  }

  private drain(atEnd: boolean): SseMessage[] {
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch === '\n' && this.afterCr) {
        // Second half of a CRLF whose CR ended the previous line (possibly in an earlier chunk).
        this.afterCr = false;
        start = i + 1;
        continue;
      }
      this.afterCr = false;
      if (ch !== '\n' && ch !== '\r') continue;
      const line = this.buffer.slice(start, i);
      this.afterCr = ch === '\r';
      start = i + 1;
      const message = this.line(line);
      if (message) out.push(message);
    }
    this.buffer = atEnd ? '' : this.buffer.slice(start);
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.dataLines.push(value);
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    const lines = this.dataLines;
    const type = this.eventType;
    this.dataLines = [];
    this.eventType = '';
    if (lines.length === 0) return null;
    return { event: type === '' ? 'message' : type, data: lines.join('\n'), lastEventId: this.lastId };
  }
}
