/**
 * GitHub Releases pagination stays on `api_url`'s origin: a `Link: rel="next"` naming another
 * host (or port, or scheme) is refused with ERR_INSECURE_URL before anything is sent there, so
 * neither the token nor any request reaches it. Two real HTTP servers on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GithubClient } from '../../../src-main/engine/feed/github-api';
import { DEFAULT_LIMITS } from '../../../src-main/engine/limits';
import { systemClock } from '../../../src-main/engine/clock';

interface Recorded {
  url: string;
  authorization: string | undefined;
}

const servers: http.Server[] = [];

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ base: string; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function client(apiUrl: string): GithubClient {
  return new GithubClient({ apiUrl, token: 'ghp_secret', allowInsecureHttp: false, limits: DEFAULT_LIMITS, clock: systemClock, cacheDir: null });
}

const release = (tag: string) => ({ tag_name: tag, draft: false, prerelease: false, assets: [] });

describe('GitHub pagination links', () => {
  it('a next link to another host is refused: the second server receives nothing, the token never leaves the API origin', async () => {
    const hostile = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'));
    // Another origin of the same machine: a different port (and "localhost" rather than 127.0.0.1).
    const hostileUrl = `${hostile.base.replace('127.0.0.1', 'localhost')}/repos/o/r/releases?page=2`;
    const api = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', link: `<${hostileUrl}>; rel="next", <${hostileUrl}>; rel="last"` });
      res.end(JSON.stringify([release('v1.0.0')]));
    });
    const gh = client(api.base);
    const err = await gh.getAllPages(gh.apiPath('/repos/o/r/releases?per_page=100')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_INSECURE_URL' });
    expect((err as Error).message).toMatch(/pagination link leaves http:\/\/127\.0\.0\.1:\d+/);
    expect(hostile.seen).toEqual([]);
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]!.authorization).toBe('Bearer ghp_secret');
  });

  it('a next link on the API origin (absolute or relative) is followed with the token', async () => {
    const api = await serve((req, res) => {
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? '1');
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (page === 1) headers.link = `</repos/o/r/releases?page=2>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify([release(`v1.0.${page}`)]));
    });
    const gh = client(api.base);
    const pages = await gh.getAllPages(gh.apiPath('/repos/o/r/releases?page=1'));
    expect(pages.map((p) => (p.body as Array<{ tag_name: string }>)[0]!.tag_name)).toEqual(['v1.0.1', 'v1.0.2']);
    expect(api.seen.map((s) => [s.url, s.authorization])).toEqual([
      ['/repos/o/r/releases?page=1', 'Bearer ghp_secret'],
      ['/repos/o/r/releases?page=2', 'Bearer ghp_secret'],
    ]);
  });
});
