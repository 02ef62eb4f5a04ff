/**
 * A static HTTP server on 127.0.0.1 serving an in-memory map of path → bytes (404 otherwise),
 * recording every request path. For feed tests of electron-builder folders, appcasts, manifests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StaticServer {
  url: string;
  files: Map<string, Buffer>;
  requests: string[];
  close(): Promise<void>;
}

export async function startStaticServer(files: Record<string, string | Buffer> = {}): Promise<StaticServer> {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(req.url ?? '');
    const body = map.get(p);
    if (!body) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-length', String(body.length));
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    files: map,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
