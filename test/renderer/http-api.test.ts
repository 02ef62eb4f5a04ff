// This test runs in Node (a real HTTP server on 127.0.0.1); it needs Node's types. ESLint still keeps
// node:* and `process` out of src-renderer itself.
/// <reference types="node" />
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, type UpkeepEvent } from '../../src-shared/api';
import { createHttpApi, TOKEN_STORAGE_KEY } from '../../src-renderer/api/http-api';
import { SseParser } from '../../src-renderer/api/sse';
import type { ConnectionState } from '../../src-renderer/api/types';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

/** A fake fetch answering from a handler and recording each request. */
function fakeFetch(handler: (req: Seen, signal?: AbortSignal) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init?.headers as Record<string, string>) ?? {})) headers[k.toLowerCase()] = v;
    const req = { url: String(input), method: init?.method ?? 'GET', headers, body: (init?.body as string) ?? null };
    seen.push(req);
    return handler(req, init?.signal ?? undefined);
  }) as typeof fetch;
  return { fn, seen };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A streaming response whose chunks the test pushes; closes when the abort signal fires. */
function streamResponse(signal?: AbortSignal) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  signal?.addEventListener('abort', () => {
    try {
      controller.error(new DOMException('aborted', 'AbortError'));
    } catch {}
  });
  const enc = new TextEncoder();
  return {
    response: new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    push: (chunk: string | Uint8Array) => controller.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk),
    close: () => controller.close(),
  };
}

function until(predicate: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > 5000) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

const stateEvent = (id: string): UpkeepEvent => ({ type: 'log', line: { at: '2025-03-01T00:00:00Z', level: 'info', message: `hello ${id} — ünïcødé ✓` } });

describe('HTTP api: requests', () => {
  it('sends the bearer token from sessionStorage on every request, and none without a token', async () => {
    const { fn, seen } = fakeFetch(() => json(200, []));
    const storage = memoryStorage({ [TOKEN_STORAGE_KEY]: 'tok-123' });
    const api = createHttpApi({ baseUrl: 'http://127.0.0.1:8080/', fetch: fn, storage });
    await api.listTargets();
    await api.history('demo', 5);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer tok-123', 'Bearer tok-123']);
    expect(seen[0].url).toBe('http://127.0.0.1:8080/api/targets');

    api.setToken!(null);
    expect(storage.data.has(TOKEN_STORAGE_KEY)).toBe(false);
    await api.listTargets();
    expect(seen[2].headers.authorization).toBeUndefined();
    api.setToken!('  new-token ');
    expect(storage.data.get(TOKEN_STORAGE_KEY)).toBe('new-token');
    expect(api.getToken!()).toBe('new-token');
  });

  it('checks a candidate token with GET /api/session without keeping it', async () => {
    const { fn, seen } = fakeFetch((req) =>
      req.headers.authorization === 'Bearer good' ? json(200, { authenticated: true, name: 'ops', via: 'token', scopes: ['admin'] }) : json(401, { code: 'ERR_UNAUTHORIZED', message: 'Invalid token' }),
    );
    const storage = memoryStorage({ [TOKEN_STORAGE_KEY]: 'old' });
    const api = createHttpApi({ baseUrl: 'http://h', fetch: fn, storage });
    expect(await api.checkToken!(' good ')).toEqual({ authenticated: true, name: 'ops', via: 'token', scopes: ['admin'] });
    const refused = await api.checkToken!('bad').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).code).toBe('ERR_UNAUTHORIZED');
    expect((refused as ApiError).status).toBe(401);
    expect(seen.map((s) => [s.method, s.url, s.headers.authorization])).toEqual([
      ['GET', 'http://h/api/session', 'Bearer good'],
      ['GET', 'http://h/api/session', 'Bearer bad'],
    ]);
    // Checking never replaces the token in use.
    expect(api.getToken!()).toBe('old');
    expect(storage.data.get(TOKEN_STORAGE_KEY)).toBe('old');
  });

  it('uses the canonical routes, methods and bodies', async () => {
    const { fn, seen } = fakeFetch((req) => (req.url.endsWith('/admin/reload') ? json(200, { status: 'ok', message: 'reloaded', config_generation: 7, timestamp: 'x', restart_required: ['api.port'] }) : json(200, {})));
    const api = createHttpApi({ baseUrl: 'http://h', fetch: fn });
    await api.info();
    await api.getTarget('a b/c');
    await api.check('demo');
    await api.download('demo', '1.1.0');
    await api.apply('demo', { version: '1.1.0', verify_only: true });
    await api.apply('demo');
    await api.cancel('demo');
    await api.listPoints('demo');
    await api.rollback('demo', 'rb-1');
    await api.rollback('demo');
    await api.history(undefined, 20);
    await api.skipVersion('demo', '1.1.0');
    await api.updateSettings('demo', { auto_apply: 'critical', paused_until: null });
    expect(await api.reloadConfig()).toEqual({ config_generation: 7, restart_required: ['api.port'] });
    await api.logs(50);
    expect(seen.map((s) => `${s.method} ${s.url.replace('http://h', '')} ${s.body ?? ''}`.trim())).toEqual([
      'GET /api/info',
      'GET /api/targets/a%20b%2Fc',
      'POST /api/targets/demo/check',
      'POST /api/targets/demo/download {"version":"1.1.0"}',
      'POST /api/targets/demo/apply {"version":"1.1.0","verify_only":true}',
      'POST /api/targets/demo/apply {}',
      'POST /api/targets/demo/cancel',
      'GET /api/targets/demo/points',
      'POST /api/targets/demo/rollback/rb-1',
      'POST /api/targets/demo/rollback',
      'GET /api/history?limit=20',
      'POST /api/targets/demo/skip {"version":"1.1.0"}',
      'PATCH /api/targets/demo/settings {"auto_apply":"critical","paused_until":null}',
      'POST /admin/reload',
      'GET /api/logs?limit=50',
    ]);
    // a JSON content type only when there is a body (an empty JSON body is refused by the server)
    expect(seen[2].headers['content-type']).toBeUndefined();
    expect(seen[3].headers['content-type']).toBe('application/json');
  });

  it('turns error responses into ApiError with the engine code, message and status', async () => {
    const responses: Response[] = [
      json(422, { error: { code: 'ERR_HASH_MISMATCH', message: 'Hash mismatch for file: bin/demo' } }),
      json(409, { code: 'ERR_BUSY', message: 'Another operation holds demo' }),
      new Response('', { status: 401 }),
      new Response('', { status: 403 }),
      new Response('<html>oops</html>', { status: 502 }),
      json(404, { error: 'Not Found', message: 'Route GET:/api/x not found' }),
      new Response('not json', { status: 200 }),
    ];
    const { fn } = fakeFetch(() => responses.shift()!);
    const api = createHttpApi({ baseUrl: 'http://h', fetch: fn });
    const caught = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as ApiError;
      }
      throw new Error('expected a rejection');
    };
    const errors = [];
    for (let i = 0; i < 7; i++) errors.push(await caught(api.listTargets()));
    expect(errors.every((e) => e instanceof ApiError)).toBe(true);
    expect(errors.map((e) => [e.code, e.status])).toEqual([
      ['ERR_HASH_MISMATCH', 422],
      ['ERR_BUSY', 409],
      ['ERR_UNAUTHORIZED', 401],
      ['ERR_FORBIDDEN', 403],
      ['ERR_INTERNAL', 502],
      ['ERR_NOT_FOUND', 404],
      ['ERR_BAD_RESPONSE', 200],
    ]);
    expect(errors[0].message).toBe('Hash mismatch for file: bin/demo');
    expect(errors[1].message).toBe('Another operation holds demo');
    expect(errors[5].message).toBe('Route GET:/api/x not found');
  });

  it('reports an unreachable daemon as ERR_NETWORK', async () => {
    const api = createHttpApi({
      baseUrl: 'http://h',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await expect(api.info()).rejects.toMatchObject({ code: 'ERR_NETWORK' });
  });
});

describe('SSE parser', () => {
  it('reassembles frames split anywhere, including inside CRLF and multi-byte characters', () => {
    const events = [stateEvent('a'), stateEvent('b'), { type: 'progress', target: 'demo', progress: { percent: 42 } }];
    const wire =
      ': keep-alive\r\n\r\n' +
      `event: log\r\ndata: ${JSON.stringify(events[0])}\r\n\r\n` +
      `id: 7\nevent: log\ndata: ${JSON.stringify(events[1])}\n\n` +
      `retry: 2500\nevent: progress\ndata:${JSON.stringify(events[2])}\r\r`;
    const bytes = new TextEncoder().encode(wire);
    // every split position, two chunks
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(bytes.slice(0, cut)), ...p.push(bytes.slice(cut)), ...p.end()];
      expect(got.map((m) => [m.event, JSON.parse(m.data)])).toEqual([
        ['log', events[0]],
        ['log', events[1]],
        ['progress', events[2]],
      ]);
      expect(p.retryMs).toBe(2500);
      expect(p.lastEventId).toBe('7');
    }
    // one byte at a time
    const p = new SseParser();
    const got = [];
    for (const b of bytes) got.push(...p.push(new Uint8Array([b])));
    expect(got).toHaveLength(3);
  });

  it('joins multi-line data, defaults the type to message, and drops an unterminated frame at the end', () => {
    const p = new SseParser();
    expect(p.push('data: one\ndata: two\n\ndata: x')).toEqual([{ event: 'message', data: 'one\ntwo', lastEventId: null }]);
    expect(p.end()).toEqual([]);
    expect(new SseParser().push('event: ping\n\n')).toEqual([]); // no data: no event
  });
});

describe('HTTP api: event stream', () => {
  it('delivers events from a chunked stream, reconnects with Last-Event-ID after a drop, and stops on unsubscribe', async () => {
    const streams: ReturnType<typeof streamResponse>[] = [];
    const { fn, seen } = fakeFetch((req, signal) => {
      const s = streamResponse(signal);
      streams.push(s);
      return s.response;
    });
    const api = createHttpApi({ baseUrl: 'http://h', fetch: fn, storage: memoryStorage({ [TOKEN_STORAGE_KEY]: 't' }), minRetryMs: 1, maxRetryMs: 5 });
    const got: UpkeepEvent[] = [];
    const states: ConnectionState[] = [];
    api.onConnectionChange!((s) => states.push(s));
    const stop = api.subscribe((e) => got.push(e));
    await until(() => streams.length === 1, 'first connection');
    expect(seen[0].url).toBe('http://h/api/events');
    expect(seen[0].headers.authorization).toBe('Bearer t');
    expect(seen[0].headers.accept).toBe('text/event-stream');

    const frame = `id: 41\nevent: log\ndata: ${JSON.stringify(stateEvent('a'))}\n\n`;
    streams[0].push(frame.slice(0, 10));
    streams[0].push(frame.slice(10, 30));
    streams[0].push(frame.slice(30) + 'event: log\ndata: {"type":"nonsense"}\n\n');
    await until(() => got.length === 1, 'first event');
    expect(got[0]).toEqual(stateEvent('a'));
    expect(states).toContain('online');

    streams[0].close(); // the daemon restarts
    await until(() => streams.length === 2, 'reconnect');
    expect(states).toContain('offline');
    expect(seen[1].headers['last-event-id']).toBe('41');
    streams[1].push(`event: log\ndata: ${JSON.stringify(stateEvent('b'))}\n\n`);
    await until(() => got.length === 2, 'event after reconnect');
    expect(states[states.length - 1]).toBe('online');

    stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(streams).toHaveLength(2); // no reconnect after the last listener left
  });

  it('marks the stream unauthorized on 401 and reconnects at once with a new token', async () => {
    const { fn, seen } = fakeFetch((req, signal) => {
      if (req.headers.authorization !== 'Bearer good') return new Response(JSON.stringify({ error: { code: 'ERR_UNAUTHORIZED', message: 'no' } }), { status: 401 });
      return streamResponse(signal).response;
    });
    const api = createHttpApi({ baseUrl: 'http://h', fetch: fn, minRetryMs: 1, maxRetryMs: 60_000 });
    const states: ConnectionState[] = [];
    api.onConnectionChange!((s) => states.push(s));
    const stop = api.subscribe(() => undefined);
    await until(() => states.includes('unauthorized'), 'unauthorized');
    api.setToken!('good');
    await until(() => states[states.length - 1] === 'online', 'online with token');
    expect(seen[seen.length - 1].headers.authorization).toBe('Bearer good');
    stop();
  });
});

describe('HTTP api against a real HTTP server', () => {
  let server: http.Server | null = null;
  afterEach(async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    server = null;
  });

  it('authenticates, maps errors and streams events over a real socket', async () => {
    const sockets = new Set<http.ServerResponse>();
    server = http.createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer s3cret') {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ERR_UNAUTHORIZED', message: 'A bearer token is required' } }));
        return;
      }
      if (req.url === '/api/targets/demo/apply' && req.method === 'POST') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ERR_SIGNATURE_THRESHOLD', message: `refused ${body}` } }));
        });
        return;
      }
      if (req.url === '/api/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        sockets.add(res);
        const frame = `event: log\ndata: ${JSON.stringify(stateEvent('real'))}\n\n`;
        res.write(': hello\n\n');
        res.write(frame.slice(0, 17));
        setTimeout(() => res.write(frame.slice(17)), 20);
        req.on('close', () => sockets.delete(res));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;

    const anonymous = createHttpApi({ baseUrl: base });
    await expect(anonymous.listTargets()).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED', status: 401, message: 'A bearer token is required' });

    const api = createHttpApi({ baseUrl: base, storage: memoryStorage({ [TOKEN_STORAGE_KEY]: 's3cret' }) });
    await expect(api.apply('demo', { verify_only: true })).rejects.toMatchObject({ code: 'ERR_SIGNATURE_THRESHOLD', message: 'refused {"verify_only":true}' });

    const got: UpkeepEvent[] = [];
    const stop = api.subscribe((e) => got.push(e));
    await until(() => got.length === 1, 'event over the socket');
    expect(got[0]).toEqual(stateEvent('real'));
    stop();
    await until(() => sockets.size === 0, 'stream closed by the client');
  });
});
