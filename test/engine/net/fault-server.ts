/**
 * A real HTTP server on 127.0.0.1 (ephemeral port) whose routes misbehave on purpose: resets,
 * stalls, 5xx, redirect loops, oversized bodies. Every request is recorded so tests can assert
 * what the client sent (Range, If-None-Match, how many attempts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS, type Limits } from '../../../src-main/engine/limits';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface HandlerContext {
  /** 1-based number of this request among requests to the same path. */
  n: number;
  server: FaultServer;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, ctx: HandlerContext) => void | Promise<void>;

export interface FaultServer {
  origin: string;
  url(p: string): string;
  requests: RecordedRequest[];
  requestsTo(p: string): RecordedRequest[];
  route(p: string, h: Handler): void;
  close(): Promise<void>;
}

/** Starts the server with the given routes (exact path match, query ignored); others get 404. */
export async function startFaultServer(routes: Record<string, Handler> = {}, host = '127.0.0.1'): Promise<FaultServer> {
  const table = new Map(Object.entries(routes));
  const requests: RecordedRequest[] = [];
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ method: req.method ?? 'GET', path: p, headers: { ...req.headers } });
    const n = (counts.get(p) ?? 0) + 1;
    counts.set(p, n);
    const h = table.get(p);
    if (!h) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    Promise.resolve(h(req, res, { n, server: self })).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const self: FaultServer = {
    origin,
    url: (p) => origin + (p.startsWith('/') ? p : `/${p}`),
    requests,
    requestsTo: (p) => requests.filter((r) => r.path === p),
    route: (p, h) => void table.set(p, h),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return self;
}

function parseRange(v: string | undefined, size: number): number | null {
  const m = v === undefined ? null : /^bytes=(\d+)-$/.exec(v);
  if (!m) return null;
  const start = Number(m[1]);
  return start <= size ? start : -1;
}

/**
 * Serves `data` like a well-behaved static server: ETag / Last-Modified, conditional GET (304),
 * `Range: bytes=N-` (206, or 416 past the end), `If-Range`. Options can turn ranges off or
 * override the declared length.
 */
export function serveBytes(
  data: Buffer,
  o: { etag?: string; lastModified?: string; ranges?: boolean; contentLength?: number | null } = {},
): Handler {
  const etag = o.etag ?? `"${sha256Hex(data).slice(0, 16)}"`;
  return (req, res) => {
    const base: http.OutgoingHttpHeaders = { etag, 'content-type': 'application/octet-stream' };
    if (o.lastModified) base['last-modified'] = o.lastModified;
    if (o.ranges !== false) base['accept-ranges'] = 'bytes';
    if (req.headers['if-none-match'] === etag || (o.lastModified && req.headers['if-modified-since'] === o.lastModified)) {
      res.writeHead(304, base).end();
      return;
    }
    const ifRange = req.headers['if-range'];
    const start = o.ranges === false || (ifRange !== undefined && ifRange !== etag) ? null : parseRange(req.headers.range, data.length);
    if (start === -1) {
      res.writeHead(416, { ...base, 'content-range': `bytes */${data.length}` }).end();
      return;
    }
    if (start !== null && start > 0) {
      const body = data.subarray(start);
      res.writeHead(206, { ...base, 'content-length': body.length, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
      res.end(body);
      return;
    }
    if (o.contentLength !== null) base['content-length'] = o.contentLength ?? data.length;
    res.writeHead(200, base);
    res.end(data);
  };
}

/** Sends headers for all of `data` (Content-Length), writes the first `n` bytes, then destroys the socket. */
export function resetAfter(data: Buffer, n: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' });
    res.write(data.subarray(0, n), () => {
      // Give the bytes a moment to leave the kernel buffer, then cut the connection.
      setTimeout(() => res.socket?.destroy(), 20);
    });
  };
}

/** Answers with `code` and a small body. */
export function status(code: number, body = `status ${code}`): Handler {
  return (_req, res) => void res.writeHead(code, { 'content-type': 'text/plain' }).end(body);
}

/** Redirects to `location` (absolute or relative). */
export function redirect(location: string, code = 302): Handler {
  return (_req, res) => void res.writeHead(code, { location }).end();
}

/** Sends 200 headers (declaring `length` bytes) and then nothing, ever. */
export function stall(length = 1024): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': length, 'content-type': 'application/octet-stream' });
    res.flushHeaders();
  };
}

/** The n-th request to the route uses handlers[n-1]; later requests reuse the last handler. */
export function sequence(...handlers: Handler[]): Handler {
  return (req, res, ctx) => {
    const h = handlers[Math.min(ctx.n, handlers.length) - 1];
    if (!h) throw new Error('sequence() needs at least one handler');
    return h(req, res, ctx);
  };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes (so failures are reproducible). */
export function testBytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Limits with tiny backoffs and a short idle timeout, so fault tests stay fast. */
export function fastLimits(over: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, retries: 3, backoffBaseMs: 5, maxBackoffMs: 20, idleTimeoutMs: 2_000, metadataTimeoutMs: 20_000, ...over };
}

/** A fresh temp directory and its remover. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-net-'));
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

/** The code of a rejected promise (fails the test if it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<{ code?: string; details?: Record<string, unknown>; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; details?: Record<string, unknown>; message: string };
  }
  throw new Error('expected the promise to reject');
}
