import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { backoffDelayMs, fetchBytes } from '../../../src-main/engine/net/fetcher';
import { errorOf, fastLimits, redirect, serveBytes, startFaultServer, tempDir, type FaultServer } from './fault-server';

let server: FaultServer;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  server = await startFaultServer();
  tmp = await tempDir();
});
afterEach(async () => {
  await server.close();
  await tmp.cleanup();
});

const opts = (over: Partial<Parameters<typeof fetchBytes>[1]> = {}) => ({ maxBytes: 1 << 20, allowInsecureHttp: false, limits: fastLimits(), ...over });

describe('fetchBytes over http', () => {
  it('returns the body, validators and the final URL after a relative redirect', async () => {
    server.route('/feed/channels/stable.json', redirect('../v2/stable.json', 301));
    server.route('/feed/v2/stable.json', serveBytes(Buffer.from('{"a":1}'), { etag: '"e1"' }));
    const r = await fetchBytes(server.url('/feed/channels/stable.json'), opts());
    expect(r.notModified).toBe(false);
    if (r.notModified) return;
    expect(r.bytes.toString()).toBe('{"a":1}');
    expect(r.etag).toBe('"e1"');
    expect(r.url).toBe(server.url('/feed/v2/stable.json'));
  });

  it('sends caller headers, and drops Authorization when a redirect changes origin', async () => {
    const other = await startFaultServer({ '/asset': serveBytes(Buffer.from('asset')) }, 'localhost');
    try {
      server.route('/api/asset', redirect(other.url('/asset')));
      const r = await fetchBytes(server.url('/api/asset'), opts({ headers: { Authorization: 'Bearer secret', 'X-Test': '1' } }));
      expect(r.notModified).toBe(false);
      expect(server.requestsTo('/api/asset')[0]?.headers.authorization).toBe('Bearer secret');
      const hop = other.requestsTo('/asset')[0];
      expect(hop?.headers.authorization).toBeUndefined();
      expect(hop?.headers['x-test']).toBe('1');
    } finally {
      await other.close();
    }
  });

  it('refuses a declared Content-Length over maxBytes', async () => {
    server.route('/big.json', serveBytes(Buffer.alloc(5000, 0x20)));
    const e = await errorOf(fetchBytes(server.url('/big.json'), opts({ maxBytes: 4999 })));
    expect(e.code).toBe('ERR_SIZE_MISMATCH');
    const ok = await fetchBytes(server.url('/big.json'), opts({ maxBytes: 5000 }));
    expect(ok.notModified).toBe(false);
  });

  it('refuses plain http to a non-loopback host before any request', async () => {
    const e = await errorOf(fetchBytes('http://192.0.2.1/feed.json', opts()));
    expect(e.code).toBe('ERR_INSECURE_URL');
  });

  it('a response that trickles forever hits the whole-request deadline (ERR_DOWNLOAD_TIMEOUT), not retried', async () => {
    server.route('/drip.json', (_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    });
    const e = await errorOf(fetchBytes(server.url('/drip.json'), opts({ limits: fastLimits({ metadataTimeoutMs: 400, idleTimeoutMs: 5_000 }) })));
    expect(e.code).toBe('ERR_DOWNLOAD_TIMEOUT');
    expect(server.requestsTo('/drip.json')).toHaveLength(1);
  });

  it('cancels with ERR_CANCELLED', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await errorOf(fetchBytes(server.url('/x'), opts({ signal: ac.signal })));
    expect(e.code).toBe('ERR_CANCELLED');
    expect(server.requests).toHaveLength(0);
  });
});

describe('fetchBytes from the filesystem', () => {
  it('reads file:// URLs and plain paths, with a local ETag for conditional polling', async () => {
    const file = path.join(tmp.dir, 'channels', 'stable.json');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, '{"local":true}');
    const viaUrl = await fetchBytes(pathToFileURL(file).href, opts());
    const viaPath = await fetchBytes(file, opts());
    expect(viaUrl.notModified).toBe(false);
    expect(viaPath.notModified).toBe(false);
    if (viaUrl.notModified || viaPath.notModified) return;
    expect(viaUrl.bytes.toString()).toBe('{"local":true}');
    expect(viaPath.bytes.toString()).toBe('{"local":true}');
    expect(viaUrl.url).toBe(pathToFileURL(file).href);
    expect(viaUrl.etag).not.toBeNull();
    const again = await fetchBytes(file, opts({ etag: viaUrl.etag }));
    expect(again).toEqual({ notModified: true });
    // A changed file is no longer "not modified".
    await fsp.writeFile(file, '{"local":"changed, longer"}');
    const changed = await fetchBytes(file, opts({ etag: viaUrl.etag }));
    expect(changed.notModified).toBe(false);
  });

  it('missing file => ERR_NOT_FOUND; over the bound => ERR_SIZE_MISMATCH', async () => {
    const e = await errorOf(fetchBytes(path.join(tmp.dir, 'nope.json'), opts()));
    expect(e.code).toBe('ERR_NOT_FOUND');
    const big = path.join(tmp.dir, 'big.json');
    await fsp.writeFile(big, Buffer.alloc(2048));
    expect((await errorOf(fetchBytes(big, opts({ maxBytes: 2047 })))).code).toBe('ERR_SIZE_MISMATCH');
    const ok = await fetchBytes(big, opts({ maxBytes: 2048 }));
    expect(ok.notModified === false && ok.bytes.length).toBe(2048);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap', () => {
    const limits = fastLimits({ backoffBaseMs: 100, maxBackoffMs: 1000 });
    const d1 = backoffDelayMs(1, limits);
    const d3 = backoffDelayMs(3, limits);
    expect(d1).toBeGreaterThanOrEqual(90);
    expect(d1).toBeLessThanOrEqual(110);
    expect(d3).toBeGreaterThanOrEqual(360);
    expect(d3).toBeLessThanOrEqual(440);
    expect(backoffDelayMs(20, limits)).toBeLessThanOrEqual(1000);
    expect(backoffDelayMs(1, limits, 700)).toBe(700);
  });
});
