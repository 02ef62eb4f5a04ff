/**
 * A real static file server on 127.0.0.1 over a directory (a feed tree), recording every request
 * with its query; optionally it requires `?token=…` on every request (403 without it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface StaticServer {
  origin: string;
  /** `path?query` of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startStaticServer(root: string, o: { prefix?: string; token?: string } = {}): Promise<StaticServer> {
  const prefix = o.prefix ?? '/';
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      requests.push(u.pathname + u.search);
      if (o.token !== undefined && u.searchParams.get('token') !== o.token) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('token required');
        return;
      }
      if (!u.pathname.startsWith(prefix)) {
        res.writeHead(404).end('not found');
        return;
      }
      const rel = decodeURIComponent(u.pathname.slice(prefix.length));
      const file = path.resolve(root, rel);
      if (!file.startsWith(path.resolve(root) + path.sep)) {
        res.writeHead(404).end('not found');
        return;
      }
      try {
        const data = await fsp.readFile(file);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data);
      } catch {
        res.writeHead(404).end('not found');
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
