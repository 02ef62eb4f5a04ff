import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { downloadFile, type DownloadOptions } from '../../../src-main/engine/net/download';
import { errorOf, fastLimits, redirect, serveBytes, sha256Hex, startFaultServer, status, tempDir, testBytes, type FaultServer } from './fault-server';

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

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

function opts(url: string, data: Buffer, over: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    url,
    dest: path.join(tmp.dir, 'dest', 'app.bin'),
    partial: path.join(tmp.dir, 'partial', 'app.bin.part'),
    size: data.length,
    sha256: sha256Hex(data),
    allowInsecureHttp: false,
    limits: fastLimits(),
    ...over,
  };
}

describe('downloadFile over http', () => {
  it('downloads, verifies and renames into place; progress deltas sum to the size', async () => {
    const data = testBytes(300_000, 2);
    server.route('/app.bin', serveBytes(data));
    const o = opts(server.url('/app.bin'), data);
    let sum = 0;
    await downloadFile({ ...o, onBytes: (d) => (sum += d) });
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(sum).toBe(data.length);
    expect(await exists(o.partial)).toBe(false);
  });

  it('resumes an existing partial left by an earlier run with a Range request', async () => {
    const data = testBytes(100_000, 4);
    server.route('/app.bin', serveBytes(data));
    const o = opts(server.url('/app.bin'), data);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, data.subarray(0, 40_000));
    const deltas: number[] = [];
    await downloadFile({ ...o, onBytes: (d) => deltas.push(d) });
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(server.requestsTo('/app.bin').map((r) => r.headers.range)).toEqual(['bytes=40000-']);
    expect(deltas[0]).toBe(40_000);
    expect(deltas.reduce((a, b) => a + b, 0)).toBe(data.length);
  });

  it('restarts from zero when the server answers a Range request with 200', async () => {
    const data = testBytes(50_000, 5);
    server.route('/app.bin', serveBytes(data, { ranges: false }));
    const o = opts(server.url('/app.bin'), data);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, data.subarray(0, 10_000));
    let sum = 0;
    await downloadFile({ ...o, onBytes: (d) => (sum += d) });
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(server.requestsTo('/app.bin')[0]?.headers.range).toBe('bytes=10000-');
    expect(sum).toBe(data.length);
  });

  it('a corrupted old partial gets one clean pass from zero instead of a hash failure', async () => {
    const data = testBytes(30_000, 6);
    server.route('/app.bin', serveBytes(data));
    const o = opts(server.url('/app.bin'), data);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, Buffer.alloc(5_000, 0xee));
    await downloadFile(o);
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    const ranges = server.requestsTo('/app.bin').map((r) => r.headers.range);
    expect(ranges).toEqual(['bytes=5000-', undefined]);
  });

  it('a partial longer than the size is discarded and the file fetched whole', async () => {
    const data = testBytes(1_000, 8);
    server.route('/app.bin', serveBytes(data));
    const o = opts(server.url('/app.bin'), data);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, Buffer.alloc(2_000));
    await downloadFile(o);
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(server.requestsTo('/app.bin')[0]?.headers.range).toBeUndefined();
  });

  it('a server declaring fewer bytes than the signed size => ERR_SIZE_MISMATCH, nothing kept', async () => {
    const data = testBytes(1_000, 8);
    server.route('/app.bin', serveBytes(data.subarray(0, 900)));
    const o = opts(server.url('/app.bin'), data);
    expect((await errorOf(downloadFile(o))).code).toBe('ERR_SIZE_MISMATCH');
    expect(await exists(o.dest)).toBe(false);
    expect(await exists(o.partial)).toBe(false);
  });

  it('a body that keeps ending early without a length => retried with Range, then ERR_DOWNLOAD_FAILED', async () => {
    const data = testBytes(1_000, 8);
    server.route('/app.bin', (req, res) => {
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      // Chunked, no Content-Length, and never the last 100 bytes.
      if (start > 0) res.writeHead(206, { 'content-range': `bytes ${start}-999/1000` });
      else res.writeHead(200);
      res.end(data.subarray(start, 900));
    });
    const o = opts(server.url('/app.bin'), data, { limits: fastLimits({ retries: 2 }) });
    const e = await errorOf(downloadFile(o));
    expect(e.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(server.requestsTo('/app.bin').map((r) => r.headers.range)).toEqual([undefined, 'bytes=900-', 'bytes=900-']);
    expect(await exists(o.dest)).toBe(false);
    // The verified-so-far prefix is kept for a later resume.
    expect((await fsp.stat(o.partial)).size).toBe(900);
  });

  it('refuses a bad sha256 argument and non-loopback http', async () => {
    const data = testBytes(10);
    expect((await errorOf(downloadFile({ ...opts(server.url('/a'), data), sha256: 'xyz' }))).code).toBe('ERR_METADATA_INVALID');
    expect((await errorOf(downloadFile(opts('http://192.0.2.1/a', data)))).code).toBe('ERR_INSECURE_URL');
    expect(server.requests).toHaveLength(0);
  });

  it('a 5xx after a resume keeps resuming within the retry budget', async () => {
    const data = testBytes(20_000, 12);
    const good = serveBytes(data);
    server.route('/app.bin', (req, res, ctx) => (ctx.n === 1 ? status(503)(req, res, ctx) : good(req, res, ctx)));
    const o = opts(server.url('/app.bin'), data);
    await fsp.mkdir(path.dirname(o.partial), { recursive: true });
    await fsp.writeFile(o.partial, data.subarray(0, 7_000));
    await downloadFile(o);
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(server.requestsTo('/app.bin').map((r) => r.headers.range)).toEqual(['bytes=7000-', 'bytes=7000-']);
  });
});

describe('downloadFile from the filesystem', () => {
  it('copies file:// sources and plain paths with the same checks (a file: feed)', async () => {
    const data = testBytes(70_000, 13);
    const src = path.join(tmp.dir, 'feed', 'blob');
    await fsp.mkdir(path.dirname(src), { recursive: true });
    await fsp.writeFile(src, data);
    const o = opts(pathToFileURL(src).href, data, { allowFileUrls: true });
    await downloadFile(o);
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    const o2 = opts(src, data, { dest: path.join(tmp.dir, 'dest', 'two.bin'), allowFileUrls: true });
    await downloadFile(o2);
    expect(Buffer.compare(await fsp.readFile(o2.dest), data)).toBe(0);
  });

  it('file:// wrong size, wrong hash and missing file', async () => {
    const data = testBytes(1_000, 14);
    const src = path.join(tmp.dir, 'blob');
    await fsp.writeFile(src, Buffer.concat([data, Buffer.from('x')]));
    const o = opts(src, data, { allowFileUrls: true });
    expect((await errorOf(downloadFile(o))).code).toBe('ERR_SIZE_MISMATCH');
    expect(await exists(o.dest)).toBe(false);
    const wrong = Buffer.from(data);
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    await fsp.writeFile(src, wrong);
    expect((await errorOf(downloadFile(o))).code).toBe('ERR_HASH_MISMATCH');
    expect(await exists(o.dest)).toBe(false);
    expect(await exists(o.partial)).toBe(false);
    expect((await errorOf(downloadFile(opts(path.join(tmp.dir, 'missing'), data, { allowFileUrls: true })))).code).toBe('ERR_NOT_FOUND');
  });

  it('a download that is not of a file: feed may not read local files: ERR_INSECURE_URL before anything is opened', async () => {
    const data = testBytes(2_000, 15);
    const src = path.join(tmp.dir, 'secret');
    await fsp.writeFile(src, data);
    for (const url of [pathToFileURL(src).href, src, 'file:///etc/passwd']) {
      const o = opts(url, data);
      const err = await errorOf(downloadFile(o));
      expect(err.code).toBe('ERR_INSECURE_URL');
      expect(err.message).toMatch(/names a local file/);
      expect(await exists(o.dest)).toBe(false);
      expect(await exists(o.partial)).toBe(false);
      expect(await exists(path.dirname(o.partial))).toBe(false);
    }
  });

  it('an http(s) download redirected to file: is refused, even for a file: feed', async () => {
    const data = testBytes(2_000, 16);
    const src = path.join(tmp.dir, 'local-copy');
    await fsp.writeFile(src, data);
    server.route('/asset', redirect(pathToFileURL(src).href));
    for (const allowFileUrls of [false, true]) {
      const o = opts(server.url('/asset'), data, { allowFileUrls });
      const err = await errorOf(downloadFile(o));
      expect(err.code).toBe('ERR_INSECURE_URL');
      expect(err.message).toMatch(/Redirect to file: refused/);
      expect(await exists(o.dest)).toBe(false);
    }
    expect(server.requestsTo('/asset')).toHaveLength(2);
  });
});
