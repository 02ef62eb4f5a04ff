/**
 * A GitHub look-alike on 127.0.0.1 for feed tests: an "API" server answering
 * `GET /repos/{repo}/releases` with recorded-shape release JSON (Link pagination, ETag/304,
 * rate-limit answers on demand) and `/download/{tag}/{name}` with a 302 to a second "asset host"
 * server, as github.com redirects to objects.githubusercontent.com. Both record every request's
 * headers so tests can check where a token went.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAsset {
  name: string;
  bytes: Buffer;
}

export interface FakeRelease {
  tag_name: string;
  draft?: boolean;
  prerelease?: boolean;
  body?: string;
  assets: FakeAsset[];
}

export interface SeenRequest {
  server: 'api' | 'assets';
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status: number;
}

export interface GithubFake {
  apiUrl: string;
  assetUrl: string;
  repo: string;
  releases: FakeRelease[];
  seen: SeenRequest[];
  /** Releases per page (Link pagination). */
  perPage: number;
  /** When set, the next API call answers 403 with these rate-limit headers. */
  rateLimit: Record<string, string> | null;
  /** When set, release listings answer 301 to this URL (a renamed repository). */
  redirectListTo: string | null;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function releaseJson(fake: GithubFake, r: FakeRelease, i: number): Record<string, unknown> {
  return {
    url: `${fake.apiUrl}/repos/${fake.repo}/releases/${i + 1}`,
    id: i + 1,
    tag_name: r.tag_name,
    target_commitish: 'main',
    name: r.tag_name,
    draft: r.draft ?? false,
    prerelease: r.prerelease ?? false,
    created_at: '2026-11-01T10:00:00Z',
    published_at: '2026-11-01T10:05:00Z',
    body: r.body ?? `Release ${r.tag_name}`,
    assets: r.assets.map((a, j) => ({
      url: `${fake.apiUrl}/repos/${fake.repo}/releases/assets/${(i + 1) * 100 + j}`,
      id: (i + 1) * 100 + j,
      name: a.name,
      label: '',
      content_type: 'application/octet-stream',
      state: 'uploaded',
      size: a.bytes.length,
      download_count: 0,
      browser_download_url: `${fake.apiUrl}/download/${encodeURIComponent(r.tag_name)}/${encodeURIComponent(a.name)}`,
    })),
  };
}

/** Starts both servers. `repo` is owner/name. */
export async function startGithubFake(repo: string, releases: FakeRelease[]): Promise<GithubFake> {
  const assets = http.createServer((req, res) => {
    const m = /^\/blobs\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    const rel = m ? fake.releases.find((r) => r.tag_name === decodeURIComponent(m[1]!)) : undefined;
    const asset = rel?.assets.find((a) => a.name === decodeURIComponent(m![2]!));
    const status = asset ? 200 : 404;
    fake.seen.push({ server: 'assets', method: req.method ?? 'GET', url: req.url ?? '', headers: req.headers, status });
    if (!asset) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(asset.bytes.length));
    res.end(asset.bytes);
  });
  const api = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const record = (status: number): void => {
      fake.seen.push({ server: 'api', method: req.method ?? 'GET', url: req.url ?? '', headers: req.headers, status });
    };
    if (fake.rateLimit && !u.pathname.startsWith('/download/')) {
      record(403);
      res.writeHead(403, { 'content-type': 'application/json', ...fake.rateLimit });
      res.end(JSON.stringify({ message: 'API rate limit exceeded' }));
      return;
    }
    const dl = /^\/download\/([^/]+)\/([^/]+)$/.exec(u.pathname);
    if (dl) {
      record(302);
      res.writeHead(302, { location: `${fake.assetUrl}/blobs/${dl[1]}/${dl[2]}` });
      res.end();
      return;
    }
    const list = u.pathname === `/repos/${fake.repo}/releases` || u.pathname === '/repositories/1/releases';
    if (!list) {
      record(404);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not Found' }));
      return;
    }
    if (fake.redirectListTo && u.pathname === `/repos/${fake.repo}/releases`) {
      record(301);
      res.writeHead(301, { location: fake.redirectListTo + u.search });
      res.end();
      return;
    }
    const page = Number(u.searchParams.get('page') ?? '1');
    const all = fake.releases.map((r, i) => releaseJson(fake, r, i));
    const slice = all.slice((page - 1) * fake.perPage, page * fake.perPage);
    const body = JSON.stringify(slice);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"`;
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      etag,
      'x-ratelimit-limit': '60',
      'x-ratelimit-remaining': '59',
      'x-ratelimit-reset': '1796000000',
    };
    if (page * fake.perPage < all.length) headers.link = `<${fake.apiUrl}/repositories/1/releases?per_page=${fake.perPage}&page=${page + 1}>; rel="next", <${fake.apiUrl}/repositories/1/releases?page=1>; rel="first"`;
    if (req.headers['if-none-match'] === etag) {
      record(304);
      res.writeHead(304, headers);
      res.end();
      return;
    }
    record(200);
    res.writeHead(200, headers);
    res.end(body);
  });
  const fake: GithubFake = {
    apiUrl: await listen(api),
    assetUrl: await listen(assets),
    repo,
    releases,
    seen: [],
    perPage: 2,
    rateLimit: null,
    redirectListTo: null,
    close: async () => {
      await Promise.all([api, assets].map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
    },
  };
  return fake;
}

/** GNU sha256sum text for assets. */
export function sha256sums(assets: FakeAsset[]): Buffer {
  return Buffer.from(assets.map((a) => `${createHash('sha256').update(a.bytes).digest('hex')}  ${a.name}\n`).join(''));
}
