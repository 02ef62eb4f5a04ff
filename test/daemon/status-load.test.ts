/**
 * Status reads are reads: 20,000 `GET /api/updates` (seed 000's route; half anonymous under
 * `public_reads`, half with a read token) against the real daemon core and HTTP server leave the
 * history file byte-identical and cost the feed server at most the one shared check a 60 s old
 * answer allows — never a request per call. Load comes from autocannon; no timing is asserted.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { Fixture, call, startInProcess, type InProcess } from './helpers';

const V1 = { 'bin/demo': '#!/bin/sh\necho demo 1.0.0\n', 'lib/core.so': 'core v1' };
const V2 = { 'bin/demo': '#!/bin/sh\necho demo 1.1.0\n', 'lib/core.so': 'core v1.1' };

/** Serves the fixture's feed directory over HTTP on 127.0.0.1 and records every request path. */
async function serveFeed(dir: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(p);
    const file = path.join(dir, path.normalize(p));
    if (!file.startsWith(dir + path.sep)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    fsp.readFile(file).then(
      (body) => {
        res.setHeader('content-length', String(body.length));
        res.end(body);
      },
      () => {
        res.statusCode = 404;
        res.end('not found');
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function load(url: string, amount: number, headers: Record<string, string> = {}): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, amount, connections: 16, headers }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('GET /api/updates under load', () => {
  let fx: Fixture;
  let feed: Awaited<ReturnType<typeof serveFeed>>;
  let d: InProcess;

  beforeAll(async () => {
    fx = await Fixture.create('upkeep-status-load-');
    await fx.publish('1.0.0', V1);
    feed = await serveFeed(fx.feedDir);
    const text = fx.configText().replace('public_reads: false', 'public_reads: true').replace(`feed: { url: ${JSON.stringify(fx.feedDir)} }`, `feed: { url: ${JSON.stringify(feed.url)} }`);
    expect(text).toContain(feed.url);
    await fx.writeConfig(text);
    d = await startInProcess(fx.configPath);
    const first = await call(d.url, 'POST', '/api/targets/demo/apply', { token: fx.admin.token, json: {} });
    expect(first.status, first.text).toBe(200);
    await fx.publish('1.1.0', V2);
  });

  afterAll(async () => {
    await d?.close();
    await feed?.close();
    await fx?.cleanup();
  });

  it('20,000 anonymous and token reads leave history byte-identical and share one feed check', async () => {
    const historyPath = path.join(fx.dir, 'state', 'history.jsonl');
    const historyBefore = await fsp.readFile(historyPath);
    expect(historyBefore.length).toBeGreaterThan(0);
    const requestsBefore = feed.requests.length;

    // Both kinds of caller at once, so the first wave of both shares the one in-flight check.
    const [anonymous, withToken] = await Promise.all([
      load(`${d.url}/api/updates`, 10_000),
      load(`${d.url}/api/updates`, 10_000, { authorization: `Bearer ${fx.reader.token}` }),
    ]);
    for (const r of [anonymous, withToken]) {
      expect(r.errors + r.timeouts).toBe(0);
      expect(r.non2xx).toBe(0);
      expect(r['2xx']).toBe(10_000);
    }

    // The answer reflects the check that ran: 1.1.0 is published.
    const after = await call(d.url, 'GET', '/api/updates');
    expect(after.status, after.text).toBe(200);
    expect(after.body).toMatchObject({ status: 'update_available', current_version: '1.0.0', latest_release: { version: '1.1.0' } });

    expect(await fsp.readFile(historyPath)).toEqual(historyBefore);
    const during = feed.requests.slice(requestsBefore);
    // One check: the channel index once, plus at most the manifests that check verified.
    expect(during.filter((p) => p === '/channels/stable.json'), during.join(' ')).toHaveLength(1);
    expect(during.length, during.join(' ')).toBeLessThanOrEqual(3);
    expect(during.every((p) => p === '/channels/stable.json' || p.startsWith('/manifests/')), during.join(' ')).toBe(true);
  });
});
