import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { downloadFile } from '../../../src-main/engine/net/download';
import { fetchBytes } from '../../../src-main/engine/net/fetcher';
import {
  errorOf,
  fastLimits,
  redirect,
  resetAfter,
  sequence,
  serveBytes,
  sha256Hex,
  stall,
  startFaultServer,
  status,
  tempDir,
  testBytes,
  type FaultServer,
} from './fault-server';

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

function dl(urlPath: string, data: Buffer, over: Partial<Parameters<typeof downloadFile>[0]> = {}) {
  return {
    url: server.url(urlPath),
    dest: path.join(tmp.dir, 'out', 'file.bin'),
    partial: path.join(tmp.dir, 'partial', 'file.bin'),
    size: data.length,
    sha256: sha256Hex(data),
    allowInsecureHttp: false,
    limits: fastLimits(),
    ...over,
  };
}

describe('network faults against a real local server', () => {
  it('resumes with a Range request after the connection is reset mid-body, and the file is byte-identical', async () => {
    const data = testBytes(256 * 1024, 7);
    server.route('/f.bin', sequence(resetAfter(data, data.length / 2), serveBytes(data)));
    const o = dl('/f.bin', data);
    let reported = 0;
    await downloadFile({ ...o, onBytes: (d) => (reported += d) });
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    const reqs = server.requestsTo('/f.bin');
    expect(reqs).toHaveLength(2);
    expect(reqs[0]?.headers.range).toBeUndefined();
    const range = reqs[1]?.headers.range;
    expect(range).toMatch(/^bytes=\d+-$/);
    const offset = Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(data.length / 2);
    expect(reported).toBe(data.length);
    expect(await exists(o.partial)).toBe(false);
  });

  it('404 => ERR_NOT_FOUND (metadata and download), without retries', async () => {
    const e1 = await errorOf(fetchBytes(server.url('/missing.json'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits() }));
    expect(e1.code).toBe('ERR_NOT_FOUND');
    expect(e1.details?.status).toBe(404);
    const data = testBytes(10);
    const e2 = await errorOf(downloadFile(dl('/missing.bin', data)));
    expect(e2.code).toBe('ERR_NOT_FOUND');
    expect(server.requestsTo('/missing.json')).toHaveLength(1);
    expect(server.requestsTo('/missing.bin')).toHaveLength(1);
  });

  it('500 twice then 200 => success after retries', async () => {
    const doc = Buffer.from('{"ok":true}');
    server.route('/index.json', sequence(status(500), status(500), serveBytes(doc)));
    const r = await fetchBytes(server.url('/index.json'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits() });
    expect(r.notModified).toBe(false);
    if (!r.notModified) expect(r.bytes.toString()).toBe('{"ok":true}');
    expect(server.requestsTo('/index.json')).toHaveLength(3);

    const data = testBytes(4096, 3);
    server.route('/f.bin', sequence(status(503), status(502), serveBytes(data)));
    const o = dl('/f.bin', data);
    await downloadFile(o);
    expect(Buffer.compare(await fsp.readFile(o.dest), data)).toBe(0);
    expect(server.requestsTo('/f.bin')).toHaveLength(3);
  });

  it('always 500 => ERR_DOWNLOAD_FAILED after 1 + retries attempts', async () => {
    server.route('/index.json', status(500));
    const e = await errorOf(fetchBytes(server.url('/index.json'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits({ retries: 2 }) }));
    expect(e.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(server.requestsTo('/index.json')).toHaveLength(3);

    server.route('/f.bin', status(500));
    const data = testBytes(100);
    const o = dl('/f.bin', data, { limits: fastLimits({ retries: 3 }) });
    const e2 = await errorOf(downloadFile(o));
    expect(e2.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(server.requestsTo('/f.bin')).toHaveLength(4);
    expect(await exists(o.dest)).toBe(false);
  });

  it('other 4xx => ERR_DOWNLOAD_FAILED without retries', async () => {
    server.route('/index.json', status(403));
    const e = await errorOf(fetchBytes(server.url('/index.json'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits() }));
    expect(e.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(server.requestsTo('/index.json')).toHaveLength(1);
  });

  it('headers then silence => ERR_DOWNLOAD_TIMEOUT', async () => {
    server.route('/slow.json', stall(100));
    const limits = fastLimits({ idleTimeoutMs: 300, retries: 1 });
    const e = await errorOf(fetchBytes(server.url('/slow.json'), { maxBytes: 1024, allowInsecureHttp: false, limits }));
    expect(e.code).toBe('ERR_DOWNLOAD_TIMEOUT');
    expect(server.requestsTo('/slow.json')).toHaveLength(2);

    server.route('/slow.bin', stall(100));
    const data = testBytes(100);
    const o = dl('/slow.bin', data, { limits: fastLimits({ idleTimeoutMs: 300, retries: 0 }) });
    const e2 = await errorOf(downloadFile(o));
    expect(e2.code).toBe('ERR_DOWNLOAD_TIMEOUT');
    expect(await exists(o.dest)).toBe(false);
  });

  it('redirect loop => ERR_TOO_MANY_REDIRECTS', async () => {
    server.route('/a', redirect('/b'));
    server.route('/b', redirect('/a'));
    const e = await errorOf(fetchBytes(server.url('/a'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits() }));
    expect(e.code).toBe('ERR_TOO_MANY_REDIRECTS');
    // Not retried: a loop is a loop.
    expect(server.requestsTo('/a')).toHaveLength(1);
  });

  it('a redirect chain longer than maxRedirects => ERR_TOO_MANY_REDIRECTS; within the bound it is followed', async () => {
    for (let i = 0; i < 6; i++) server.route(`/r${i}`, redirect(`/r${i + 1}`, i % 2 ? 301 : 307));
    server.route('/r6', serveBytes(Buffer.from('end')));
    const e = await errorOf(fetchBytes(server.url('/r0'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits({ maxRedirects: 5 }) }));
    expect(e.code).toBe('ERR_TOO_MANY_REDIRECTS');
    expect(server.requestsTo('/r6')).toHaveLength(0);
    const ok = await fetchBytes(server.url('/r1'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits({ maxRedirects: 5 }) });
    expect(ok.notModified).toBe(false);
    if (!ok.notModified) {
      expect(ok.bytes.toString()).toBe('end');
      expect(ok.url).toBe(server.url('/r6'));
    }
  });

  it('redirect from loopback http to a non-loopback http URL => ERR_INSECURE_URL before connecting', async () => {
    // 192.0.2.1 is TEST-NET-1: if the policy let it through, the request would time out or fail
    // with another code instead of ERR_INSECURE_URL.
    server.route('/index.json', redirect('http://192.0.2.1/index.json'));
    server.route('/f.bin', redirect('http://192.0.2.1/f.bin'));
    const limits = fastLimits({ idleTimeoutMs: 5_000 });
    const e = await errorOf(fetchBytes(server.url('/index.json'), { maxBytes: 1024, allowInsecureHttp: false, limits }));
    expect(e.code).toBe('ERR_INSECURE_URL');
    const data = testBytes(10);
    const e2 = await errorOf(downloadFile(dl('/f.bin', data, { limits })));
    expect(e2.code).toBe('ERR_INSECURE_URL');
    expect(server.requestsTo('/index.json')).toHaveLength(1);
    expect(server.requestsTo('/f.bin')).toHaveLength(1);
  });

  it('a redirect into file:// is refused even though file: feeds are allowed', async () => {
    server.route('/index.json', redirect('file:///etc/passwd'));
    const e = await errorOf(fetchBytes(server.url('/index.json'), { maxBytes: 1 << 20, allowInsecureHttp: false, limits: fastLimits() }));
    expect(e.code).toBe('ERR_INSECURE_URL');
  });

  it('body longer than the declared size => ERR_SIZE_MISMATCH and no destination', async () => {
    const data = testBytes(2048, 5);
    const longer = Buffer.concat([data, Buffer.from('extra bytes')]);
    // Declared length matches the long body (server claims a different file) ...
    server.route('/declared.bin', serveBytes(longer));
    const o1 = dl('/declared.bin', data);
    expect((await errorOf(downloadFile(o1))).code).toBe('ERR_SIZE_MISMATCH');
    expect(await exists(o1.dest)).toBe(false);
    expect(await exists(o1.partial)).toBe(false);
    // ... and a chunked body with no length at all: stopped at the first byte past the size.
    server.route('/chunked.bin', serveBytes(longer, { contentLength: null }));
    const o2 = dl('/chunked.bin', data);
    expect((await errorOf(downloadFile(o2))).code).toBe('ERR_SIZE_MISMATCH');
    expect(await exists(o2.dest)).toBe(false);
    expect(await exists(o2.partial)).toBe(false);
    // Metadata: over maxBytes.
    const e3 = await errorOf(fetchBytes(server.url('/chunked.bin'), { maxBytes: 1000, allowInsecureHttp: false, limits: fastLimits() }));
    expect(e3.code).toBe('ERR_SIZE_MISMATCH');
  });

  it('wrong bytes => ERR_HASH_MISMATCH, no destination, partial deleted', async () => {
    const data = testBytes(4096, 9);
    const evil = Buffer.from(data);
    evil[100] = (evil[100] ?? 0) ^ 0xff;
    server.route('/f.bin', serveBytes(evil));
    const o = dl('/f.bin', data);
    const e = await errorOf(downloadFile(o));
    expect(e.code).toBe('ERR_HASH_MISMATCH');
    expect(await exists(o.dest)).toBe(false);
    expect(await exists(o.partial)).toBe(false);
  });

  it('ETag conditional GET: the second fetch is notModified', async () => {
    const doc = Buffer.from('{"v":1}');
    server.route('/channels/stable.json', serveBytes(doc, { etag: '"v1"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' }));
    const first = await fetchBytes(server.url('/channels/stable.json'), { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits() });
    expect(first.notModified).toBe(false);
    if (first.notModified) return;
    expect(first.etag).toBe('"v1"');
    expect(first.lastModified).toBe('Wed, 01 Jan 2025 00:00:00 GMT');
    const second = await fetchBytes(server.url('/channels/stable.json'), {
      maxBytes: 1024,
      etag: first.etag,
      allowInsecureHttp: false,
      limits: fastLimits(),
    });
    expect(second).toEqual({ notModified: true });
    expect(server.requestsTo('/channels/stable.json')[1]?.headers['if-none-match']).toBe('"v1"');
    const third = await fetchBytes(server.url('/channels/stable.json'), {
      maxBytes: 1024,
      lastModified: first.lastModified,
      allowInsecureHttp: false,
      limits: fastLimits(),
    });
    expect(third).toEqual({ notModified: true });
  });

  it('connection refused => retried, then ERR_DOWNLOAD_FAILED', async () => {
    const url = server.url('/x.json');
    await server.close();
    const e = await errorOf(fetchBytes(url, { maxBytes: 1024, allowInsecureHttp: false, limits: fastLimits({ retries: 1 }) }));
    expect(e.code).toBe('ERR_DOWNLOAD_FAILED');
    expect(e.details?.attempts).toBe(2);
    server = await startFaultServer();
  });

  it('cancellation => ERR_CANCELLED and the partial is kept for a later resume', async () => {
    const data = testBytes(64 * 1024, 11);
    server.route('/f.bin', (_req, res) => {
      res.writeHead(200, { 'content-length': data.length });
      res.write(data.subarray(0, 1000));
    });
    const ac = new AbortController();
    const o = dl('/f.bin', data, {
      signal: ac.signal,
      onBytes: () => ac.abort(),
    });
    const e = await errorOf(downloadFile(o));
    expect(e.code).toBe('ERR_CANCELLED');
    expect(await exists(o.dest)).toBe(false);
    expect((await fsp.stat(o.partial)).size).toBeGreaterThan(0);
  });
});
