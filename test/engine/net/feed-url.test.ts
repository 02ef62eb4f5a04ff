/**
 * Feed URLs built with WHATWG URL: the feed path is the root with or without a trailing '/', and
 * its query (`?token=abc`) goes on every derived request — channel index, manifest, blobs — to a
 * real server that refuses requests without the token; Content-Encoding answers (gzip, deflate,
 * br) are decoded and verified on the decoded bytes, and errors name the encoding.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { feedRootUrl, resolveFeedUrl } from '../../../src-main/engine/net/url-policy';
import { fetchBytes } from '../../../src-main/engine/net/fetcher';
import { downloadFile } from '../../../src-main/engine/net/download';
import { FeedBuilder, engineFor, indexPayload, makeKey } from '../../helpers/feed-builder';
import { errorOf, fastLimits, sha256Hex, startFaultServer, tempDir, testBytes, type FaultServer } from './fault-server';
import { startStaticServer } from './static-dir';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => tmp.cleanup());

describe('feed URLs', () => {
  it('the feed path is the root with or without "/", the query is kept, other hosts never get it', () => {
    expect(feedRootUrl('https://h/feed?token=abc')).toBe('https://h/feed/?token=abc');
    expect(feedRootUrl('https://h/feed/?token=abc#x')).toBe('https://h/feed/?token=abc');
    expect(feedRootUrl('https://h')).toBe('https://h/');
    const root = feedRootUrl('https://h/feed?token=abc');
    expect(resolveFeedUrl(root, 'channels/stable.json')).toBe('https://h/feed/channels/stable.json?token=abc');
    const manifest = resolveFeedUrl(root, 'manifests/1.0.0.json');
    expect(resolveFeedUrl(manifest, '../blobs/sha256/ab')).toBe('https://h/feed/blobs/sha256/ab?token=abc');
    expect(resolveFeedUrl(manifest, '../blobs/x?sig=1')).toBe('https://h/feed/blobs/x?sig=1');
    expect(resolveFeedUrl(manifest, 'https://cdn.example/blob')).toBe('https://cdn.example/blob');
    expect(resolveFeedUrl(manifest, '//cdn.example/blob')).toBe('https://cdn.example/blob');
    expect(resolveFeedUrl(feedRootUrl('https://h/feed'), 'channels/a.json')).toBe('https://h/feed/channels/a.json');
  });

  it.each(['/feed?token=abc', '/feed/?token=abc'])('an engine apply from %s sends the token on every request', async (suffix) => {
    const key = makeKey();
    const feedDir = path.join(tmp.dir, 'feed');
    const fb = new FeedBuilder(feedDir);
    const rel = await fb.release('1.0.0', { 'bin/app': 'app 1.0.0\n', 'lib/x.so': 'x' }, [key]);
    await fb.index('stable', indexPayload(1, [rel]), [key]);
    const server = await startStaticServer(feedDir, { prefix: '/feed/', token: 'abc' });
    try {
      const work = path.join(tmp.dir, 'work');
      await fsp.mkdir(work);
      const engine = engineFor(work, `${server.origin}${suffix}`, { keys: [key.line], threshold: 1 });
      const result = await engine.apply('demo');
      expect(result.version).toBe('1.0.0');
      expect(await fsp.readFile(path.join(work, 'install', 'bin', 'app'), 'utf8')).toBe('app 1.0.0\n');
      expect(server.requests.length).toBeGreaterThanOrEqual(4);
      expect(server.requests.filter((r) => !r.endsWith('?token=abc'))).toEqual([]);
      expect(server.requests).toContain('/feed/channels/stable.json?token=abc');
    } finally {
      await server.close();
    }
  });
});

describe('Content-Encoding although identity was asked', () => {
  const data = testBytes(150_000, 5);
  const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
  let server: FaultServer;
  beforeEach(async () => {
    server = await startFaultServer();
  });
  afterEach(async () => server.close());

  function encoded(coding: string, body: Buffer): http.RequestListener {
    return (req, res) => {
      expect(req.headers['accept-encoding']).toBe('identity');
      res.writeHead(200, { 'content-encoding': coding, 'content-length': body.length }).end(body);
    };
  }

  it.each(Object.keys(encoders))('%s: documents and downloads are decoded and verified on the decoded bytes', async (coding) => {
    const body = encoders[coding]!(data);
    server.route('/doc', encoded(coding, body));
    server.route('/blob', encoded(coding, body));
    const r = await fetchBytes(server.url('/doc'), { maxBytes: data.length, allowInsecureHttp: false, limits: fastLimits() });
    expect(r.notModified === false && Buffer.compare(r.bytes, data)).toBe(0);
    const dest = path.join(tmp.dir, `${coding}.bin`);
    await downloadFile({ url: server.url('/blob'), dest, partial: `${dest}.part`, size: data.length, sha256: sha256Hex(data), allowInsecureHttp: false, limits: fastLimits() });
    expect(Buffer.compare(await fsp.readFile(dest), data)).toBe(0);
  });

  it('errors name the encoding: hash mismatch, corrupt body, oversized, unknown coding', async () => {
    const other = testBytes(data.length, 6);
    server.route('/wrong', encoded('gzip', gzipSync(other)));
    server.route('/corrupt', encoded('gzip', Buffer.concat([gzipSync(data).subarray(0, 500), Buffer.alloc(500, 7)])));
    server.route('/zstd', encoded('zstd', Buffer.from('whatever')));
    const dl = (p: string) => {
      const dest = path.join(tmp.dir, p.slice(1));
      return errorOf(downloadFile({ url: server.url(p), dest, partial: `${dest}.part`, size: data.length, sha256: sha256Hex(data), allowInsecureHttp: false, limits: fastLimits({ retries: 0 }) }));
    };
    const wrong = await dl('/wrong');
    expect(wrong.code).toBe('ERR_HASH_MISMATCH');
    expect(wrong.message).toMatch(/Content-Encoding: gzip; the decoded bytes were checked/);
    const corrupt = await dl('/corrupt');
    expect(corrupt.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(corrupt.message).toMatch(/Could not decode the response .* \(Content-Encoding: gzip\)/);
    const zstd = await dl('/zstd');
    expect(zstd.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(zstd.message).toMatch(/Content-Encoding: zstd, which Upkeep cannot decode/);
    const big = await errorOf(fetchBytes(server.url('/wrong'), { maxBytes: 1000, allowInsecureHttp: false, limits: fastLimits() }));
    expect(big.code).toBe('ERR_SIZE_MISMATCH');
    expect(big.message).toMatch(/after decoding its Content-Encoding: gzip/);
  });
});
