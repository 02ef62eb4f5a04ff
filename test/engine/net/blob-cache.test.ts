import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BlobCache } from '../../../src-main/engine/net/blob-cache';
import { errorOf, fastLimits, serveBytes, sha256Hex, startFaultServer, tempDir, testBytes, type FaultServer } from './fault-server';

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

const o = () => ({ allowInsecureHttp: false, limits: fastLimits() });

describe('BlobCache', () => {
  it('downloads once, then reuses the verified blob without touching the server', async () => {
    const data = testBytes(40_000, 21);
    const sha256 = sha256Hex(data);
    server.route('/b', serveBytes(data));
    const cache = new BlobCache(path.join(tmp.dir, 'cache'));
    expect(await cache.has(sha256, data.length)).toBe(false);
    const first = await cache.fetch({ url: server.url('/b'), sha256, size: data.length }, o());
    expect(first).toEqual({ path: path.join(tmp.dir, 'cache', 'sha256', sha256), reused: false });
    expect(Buffer.compare(await fsp.readFile(first.path), data)).toBe(0);
    expect(await cache.has(sha256.toUpperCase(), data.length)).toBe(true);
    expect(await cache.has(sha256, data.length + 1)).toBe(false);

    let reported = 0;
    const second = await cache.fetch({ url: server.url('/b'), sha256, size: data.length }, { ...o(), onBytes: (n) => (reported += n) });
    expect(second).toEqual({ path: first.path, reused: true });
    expect(reported).toBe(data.length);
    expect(server.requestsTo('/b')).toHaveLength(1);
  });

  it('concurrent fetches of one digest share one download', async () => {
    const data = testBytes(10_000, 22);
    const sha256 = sha256Hex(data);
    server.route('/b', serveBytes(data));
    const cache = new BlobCache(tmp.dir);
    const file = { url: server.url('/b'), sha256, size: data.length };
    const [a, b] = await Promise.all([cache.fetch(file, o()), cache.fetch(file, o())]);
    expect(a.path).toBe(b.path);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect(server.requestsTo('/b')).toHaveLength(1);
  });

  it('a feed that publishes only SHA-512 (electron-builder) is verified by SHA-512 and cached under sha512/', async () => {
    const data = testBytes(30_000, 24);
    const sha512 = createHash('sha512').update(data).digest('hex');
    server.route('/b', serveBytes(data));
    server.route('/bad', serveBytes(Buffer.alloc(data.length)));
    const cache = new BlobCache(tmp.dir);
    const r = await cache.fetch({ url: server.url('/b'), sha256: sha512, algorithm: 'sha512', size: data.length }, o());
    expect(r).toEqual({ path: path.join(tmp.dir, 'sha512', sha512), reused: false });
    expect(Buffer.compare(await fsp.readFile(r.path), data)).toBe(0);
    expect(await cache.has(sha512, data.length, 'sha512')).toBe(true);
    const e = await errorOf(new BlobCache(path.join(tmp.dir, 'other')).fetch({ url: server.url('/bad'), sha256: sha512, algorithm: 'sha512', size: data.length }, o()));
    expect(e.code).toBe('ERR_HASH_MISMATCH');
    expect(e.message).toContain('sha512');
  });

  it('a bad download never enters the cache', async () => {
    const data = testBytes(1_000, 23);
    server.route('/b', serveBytes(Buffer.alloc(1_000)));
    const cache = new BlobCache(tmp.dir);
    const e = await errorOf(cache.fetch({ url: server.url('/b'), sha256: sha256Hex(data), size: data.length }, o()));
    expect(e.code).toBe('ERR_HASH_MISMATCH');
    expect(await cache.has(sha256Hex(data), data.length)).toBe(false);
  });

  it('a file without a published digest (checked later by its signature) is fetched whole, exactly its size, and stored under its SHA-256', async () => {
    const data = testBytes(30_000, 5);
    server.route('/u', serveBytes(data));
    const cache = new BlobCache(path.join(tmp.dir, 'cache'));
    let reported = 0;
    const r = await cache.fetchUnaddressed({ url: server.url('/u'), size: data.length }, { ...o(), onBytes: (n) => (reported += n) });
    expect(r).toEqual({ path: path.join(tmp.dir, 'cache', 'sha256', sha256Hex(data)), sha256: sha256Hex(data) });
    expect(Buffer.compare(await fsp.readFile(r.path), data)).toBe(0);
    expect(reported).toBe(data.length);
    // A longer or shorter body than the feed says is refused, and nothing else enters the cache.
    expect((await errorOf(cache.fetchUnaddressed({ url: server.url('/u'), size: data.length - 1 }, o()))).code).toBe('ERR_SIZE_MISMATCH');
    expect((await errorOf(cache.fetchUnaddressed({ url: server.url('/u'), size: data.length + 1 }, o()))).code).toBe('ERR_SIZE_MISMATCH');
    expect(await fsp.readdir(path.join(tmp.dir, 'cache', 'sha256'))).toEqual([sha256Hex(data)]);
    // A network feed's item never names a local file.
    const local = path.join(tmp.dir, 'local.bin');
    await fsp.writeFile(local, data);
    expect((await errorOf(cache.fetchUnaddressed({ url: `file://${local}`, size: data.length }, o()))).code).toBe('ERR_INSECURE_URL');
  });

  it('pathFor refuses anything but a sha256 digest', () => {
    const cache = new BlobCache(tmp.dir);
    expect(() => cache.pathFor('../../etc/passwd')).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_PATH' }));
    expect(cache.pathFor('A'.repeat(64))).toBe(path.join(tmp.dir, 'sha256', 'a'.repeat(64)));
  });

  it('prune removes blobs and stale partials not kept, and reports bytes freed', async () => {
    const cache = new BlobCache(tmp.dir);
    const keep = 'a'.repeat(64);
    const drop = 'b'.repeat(64);
    const partial = 'c'.repeat(64);
    await fsp.mkdir(path.join(tmp.dir, 'sha256'), { recursive: true });
    await fsp.mkdir(path.join(tmp.dir, 'partial'), { recursive: true });
    await fsp.writeFile(cache.pathFor(keep), Buffer.alloc(100));
    await fsp.writeFile(cache.pathFor(drop), Buffer.alloc(250));
    await fsp.writeFile(cache.partialPathFor(partial), Buffer.alloc(30));
    const hourAgo = new Date(Date.now() - 3600_000);
    await fsp.utimes(cache.partialPathFor(partial), hourAgo, hourAgo);
    // A partial written to just now may be another process's download in progress: kept.
    const fresh = 'd'.repeat(64);
    await fsp.writeFile(cache.partialPathFor(fresh), Buffer.alloc(7));
    await fsp.writeFile(path.join(tmp.dir, 'sha256', 'README'), 'not a blob');
    expect(await cache.prune(new Set([keep.toUpperCase()]))).toBe(280);
    expect(await cache.has(keep, 100)).toBe(true);
    expect(await cache.has(drop, 250)).toBe(false);
    expect(await fsp.readdir(path.join(tmp.dir, 'partial'))).toEqual([fresh]);
    expect(await fsp.readFile(path.join(tmp.dir, 'sha256', 'README'), 'utf8')).toBe('not a blob');
    expect(await new BlobCache(path.join(tmp.dir, 'absent')).prune(new Set())).toBe(0);
  });

  it('a blob handed out as a hard link is never handed out again and is re-hashed before reuse: edited through the link, it is downloaded again', async () => {
    const data = testBytes(30_000, 5);
    const sha256 = sha256Hex(data);
    server.route('/h', serveBytes(data));
    const dir = path.join(tmp.dir, 'cache');
    const cache = new BlobCache(dir);
    const blob = (await cache.fetch({ url: server.url('/h'), sha256, size: data.length }, o())).path;
    expect(await cache.mayLink(blob)).toBe(true);
    expect(await cache.mayLink(path.join(tmp.dir, 'elsewhere'))).toBe(false);
    await cache.recordHandedOut('op_1', [blob]);
    const installed = path.join(tmp.dir, 'installed.bin');
    await fsp.link(blob, installed);
    // The record is durable and read by any later instance.
    expect(await new BlobCache(dir).mayLink(blob)).toBe(false);
    expect(await new BlobCache(dir).isHandedOut(blob)).toBe(true);
    // Unchanged: reused after a re-hash, no request.
    expect(await new BlobCache(dir).fetch({ url: server.url('/h'), sha256, size: data.length }, o())).toEqual({ path: blob, reused: true });
    expect(server.requestsTo('/h')).toHaveLength(1);
    // A local edit of the installed file (same size) edits the blob: dropped and fetched again.
    const fh = await fsp.open(installed, 'r+');
    await fh.write(Buffer.from('edited'), 0, 6, 0);
    await fh.close();
    const again = await new BlobCache(dir).fetch({ url: server.url('/h'), sha256, size: data.length }, o());
    expect(again).toEqual({ path: blob, reused: false });
    expect(server.requestsTo('/h')).toHaveLength(2);
    expect(createHash('sha256').update(await fsp.readFile(blob)).digest('hex')).toBe(sha256);
    expect((await fsp.readFile(installed)).subarray(0, 6).toString()).toBe('edited');
    // The fresh blob is a new inode, never handed out: it may be linked again.
    expect(await new BlobCache(dir).mayLink(blob)).toBe(true);
    // Pruning the blob drops its record.
    await new BlobCache(dir).prune(new Set());
    expect(await fsp.readdir(path.join(dir, 'handed-out'))).toEqual([]);
  });

  it('a FIFO among the hand-out records is ERR_STATE_CORRUPT naming it (mayLink and prune), never a hang', async () => {
    const data = testBytes(1000, 7);
    const sha256 = sha256Hex(data);
    server.route('/f', serveBytes(data));
    const dir = path.join(tmp.dir, 'cache');
    const blob = (await new BlobCache(dir).fetch({ url: server.url('/f'), sha256, size: data.length }, o())).path;
    await new BlobCache(dir).recordHandedOut('op_1', [blob]);
    const fifo = path.join(dir, 'handed-out', 'op_2');
    execFileSync('mkfifo', [fifo]);
    const mayLink = await new BlobCache(dir).mayLink(blob).then(() => null, (e: unknown) => e);
    expect(mayLink).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
    expect((mayLink as Error).message).toContain(fifo);
    const prune = await new BlobCache(dir).prune(new Set()).then(() => null, (e: unknown) => e);
    expect(prune).toMatchObject({ code: 'ERR_STATE_CORRUPT' });
  });
});
