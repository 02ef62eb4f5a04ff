import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UpkeepEvent } from '../../src-shared/api';
import { ADMIN, call, startHarness, type Harness } from './helpers';

interface Message {
  event: string | null;
  data: string | null;
  comment: string | null;
}

/** Reads an SSE response with fetch's body reader and splits it into messages. */
class StreamReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  readonly messages: Message[] = [];
  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }
  /** Reads until `pred` holds for some message (or the stream ends). */
  async until(pred: (m: Message) => boolean): Promise<Message> {
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      const { done, value } = await this.reader.read();
      if (done) throw new Error(`stream ended; got ${JSON.stringify(this.messages)}`);
      this.buffer += this.decoder.decode(value, { stream: true });
      let idx: number;
      while ((idx = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, idx);
        this.buffer = this.buffer.slice(idx + 2);
        const m: Message = { event: null, data: null, comment: null };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) m.comment = line.slice(1).trim();
          else if (line.startsWith('event: ')) m.event = line.slice(7);
          else if (line.startsWith('data: ')) m.data = line.slice(6);
        }
        this.messages.push(m);
      }
    }
  }
  /** True once the server has ended the stream. */
  async ended(): Promise<boolean> {
    for (;;) {
      const { done } = await this.reader.read();
      if (done) return true;
    }
  }
}

let h: Harness;
beforeEach(async () => {
  h = await startHarness(undefined, { heartbeatMs: 50 });
});
afterEach(async () => {
  await h.close();
});

async function open(): Promise<{ reader: StreamReader; abort: () => void; res: Response }> {
  const ctrl = new AbortController();
  const res = await fetch(`${h.server.url}/api/events`, { signal: ctrl.signal, headers: { accept: 'text/event-stream' } });
  if (!res.body) throw new Error('no body');
  return { reader: new StreamReader(res.body), abort: () => ctrl.abort(), res };
}

describe('GET /api/events', () => {
  it('starts with one state event per target, then relays core events as they happen', async () => {
    const { reader, abort, res } = await open();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toContain('no-cache');

    const states: string[] = [];
    await reader.until((m) => {
      if (m.event === 'state' && m.data) states.push((JSON.parse(m.data) as { target: { id: string } }).target.id);
      return states.length === 2;
    });
    expect(states).toEqual(['app', 'tool']);

    const note: UpkeepEvent = { type: 'notification', notification: { type: 'update_available', target: 'app', at: '2025-01-01T00:00:00Z', version: '1.2.0', message: 'demo 1.2.0 is available' } };
    h.core.emit(note);
    const got = await reader.until((m) => m.event === 'notification');
    expect(JSON.parse(got.data!)).toEqual(note);

    // An operation started over HTTP streams its progress and history to the same client.
    const applied = await call(h.server, 'POST', '/api/targets/app/apply', { token: ADMIN, json: {} });
    expect(applied.status).toBe(200);
    const progress = await reader.until((m) => m.event === 'progress');
    expect(JSON.parse(progress.data!)).toMatchObject({ type: 'progress', target: 'app', progress: { percent: 30 } });
    const history = await reader.until((m) => m.event === 'history');
    expect(JSON.parse(history.data!)).toMatchObject({ type: 'history', record: { operation: 'apply', result: 'success', to_version: '1.2.0' } });
    abort();
  });

  it('sends keep-alive comments', async () => {
    const { reader, abort } = await open();
    const ping = await reader.until((m) => m.comment === 'ping');
    expect(ping.event).toBeNull();
    abort();
  });

  it('unsubscribes from the core when the client goes away', async () => {
    const base = h.core.subscriberCount();
    const { reader, abort } = await open();
    await reader.until((m) => m.event === 'state');
    expect(h.core.subscriberCount()).toBe(base + 1);
    abort();
    for (let i = 0; i < 100 && h.core.subscriberCount() > base; i++) await new Promise((r) => setTimeout(r, 20));
    expect(h.core.subscriberCount()).toBe(base);
  });

  it('ends open streams when the server closes', async () => {
    const { reader } = await open();
    await reader.until((m) => m.event === 'state');
    const ended = reader.ended();
    await h.close();
    expect(await ended).toBe(true);
  });
});
