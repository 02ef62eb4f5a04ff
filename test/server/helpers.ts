/**
 * Shared set-up of the server tests: a FakeCore with three configured tokens, a real server on
 * 127.0.0.1:0, and a small JSON client over the real fetch (plus raw http.request for what fetch
 * forbids, like a custom Host header, and raw bytes over a socket for what no client sends).
 */
import http from 'node:http';
import net from 'node:net';
import { hashToken } from '../../src-main/server/auth';
import { startServer, type RunningServer, type ServerOptions } from '../../src-main/server/index';
import { FakeCore, type RawApi } from './fake-core';

export const ADMIN = 'admin-token-0123456789';
export const APPLIER = 'apply-token-0123456789';
export const READER = 'read-token-0123456789';
export const JWT_SECRET = 'a-jwt-secret-of-at-least-32-characters!!';

/** api section with an admin, an update:apply and a read token (plus overrides). */
export function apiWithTokens(extra: RawApi = {}): RawApi {
  return {
    tokens: [
      { name: 'ops', sha256: hashToken(ADMIN), scopes: ['admin'] },
      { name: 'ci', sha256: hashToken(APPLIER), scopes: ['update:apply'] },
      { name: 'grafana', sha256: hashToken(READER), scopes: ['read'] },
    ],
    ...extra,
  };
}

export interface Harness {
  core: FakeCore;
  server: RunningServer;
  close(): Promise<void>;
}

/** Starts a real server for a fresh FakeCore. */
export async function startHarness(api: RawApi = apiWithTokens(), opts: ServerOptions = {}): Promise<Harness> {
  const core = new FakeCore(api);
  const server = await startServer(core, { host: '127.0.0.1', port: 0, ...opts });
  return { core, server, close: () => server.close() };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One request with the real fetch; parses JSON when the body is JSON. */
export async function call(
  server: RunningServer,
  method: string,
  path: string,
  o: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined = o.body;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  }
  const res = await fetch(server.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** A GET with raw node:http, so the Host header can be anything. */
export function rawGet(server: RunningServer, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes `request` (raw HTTP/1.1 bytes) to the server and parses the status line and body of the answer. */
export function rawRequest(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      let body = data.slice(data.indexOf('\r\n\r\n') + 4);
      // A chunked body: keep the chunks' data only.
      if (/\r\ntransfer-encoding: chunked/i.test(data.slice(0, data.indexOf('\r\n\r\n')))) {
        let out = '';
        for (let rest = body; ;) {
          const nl = rest.indexOf('\r\n');
          const size = parseInt(rest.slice(0, nl), 16);
          if (!size) break;
          out += rest.slice(nl + 2, nl + 2 + size);
          rest = rest.slice(nl + 2 + size + 2);
        }
        body = out;
      }
      resolve({ status, body });
    });
  });
}
