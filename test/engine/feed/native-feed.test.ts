/**
 * The native feed client under concurrency: a check whose index fetch is slow must not lose
 * against a check (another process: daemon, CLI, tray) that accepted a newer index meanwhile —
 * no spurious replay refusal, and the remembered sequence never goes down.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FeedBuilder, makeKey, indexPayload, engineFor } from '../../helpers/feed-builder';
import { tempDir } from '../../helpers/tree';
import { getFeedMemory } from '../../../src-main/engine/state/store';
import { feedRoot } from '../../../src-main/engine/feed/native-feed';
import { nativeRelease } from '../../../src-main/engine/feed/native-feed-adapter';
import { UpkeepError } from '../../../src-shared/errors';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * Serves `dir`; the first index request is answered with the bytes it saw, but only after `held`
 * resolves. `firstIndexRead` resolves once those bytes were read (so a test can change the feed
 * after it, however slow the machine is).
 */
async function feedServer(dir: string, held: Promise<void>) {
  let indexRequests = 0;
  let read!: () => void;
  const firstIndexRead = new Promise<void>((r) => (read = r));
  const server = http.createServer(async (req, res) => {
    try {
      const bytes = await fsp.readFile(path.join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
      if (req.url!.includes('/channels/') && ++indexRequests === 1) {
        read();
        await held;
      }
      res.end(bytes);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, firstIndexRead };
}

describe('feed memory across concurrent checks', () => {
  it('a slow check that fetched an older index does not fail or lower the remembered sequence', async () => {
    const d = await tempDir('upkeep-feedmem-');
    cleanups.push(() => fsp.rm(d, { recursive: true, force: true }));
    const feed = new FeedBuilder(path.join(d, 'feed'));
    const key = makeKey();
    const e1 = await feed.release('1.0.0', { a: 'a' }, [key]);
    await feed.index('stable', indexPayload(2, [e1]), [key]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { url, firstIndexRead } = await feedServer(feed.dir, held);
    const [slow, fast] = [0, 1].map(() => engineFor(d, url, { keys: [key.line], threshold: 1 }));

    // The slow check fetches the index (sequence 2) and is held; the publisher moves to 3.
    const slowCheck = slow!.check('demo');
    await firstIndexRead;
    await feed.index('stable', indexPayload(3, [e1]), [key]);
    // Another process checks now; it may not overtake the slow one's read-verify-remember.
    const fastCheck = fast!.check('demo');
    await new Promise((r) => setTimeout(r, 200));
    release();
    const results = await Promise.allSettled([slowCheck, fastCheck]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok'))).toEqual(['ok', 'ok']);
    expect((await getFeedMemory(path.join(d, 'state'), feedRoot(url), 'stable'))?.sequence).toBe(3);
  });
});

describe('native manifest file URLs', () => {
  const manifest = { version: '1.0.0', product: 'app', channel: 'stable', released_at: null, release_notes: '', is_critical: false, migrations_required: false, breaking_changes: [] };
  const file = (url: string) => ({ path: 'bin/app', type: 'executable', size: 1, sha256: 'a'.repeat(64), url, platform: 'linux', arch: 'x64' });
  const release = (manifestUrl: string, url: string) =>
    nativeRelease({ manifest, bytes: Buffer.alloc(0), sha256: '', url: manifestUrl, entry: { is_critical: false } } as never, [file(url)] as never);

  it('a manifest fetched over the network names http(s) downloads only: file: and other schemes are ERR_INSECURE_URL', () => {
    for (const bad of ['file:///etc/shadow', 'ftp://127.0.0.1/x']) {
      let code = 'no error';
      try {
        release('https://updates.example/feed/manifests/1.0.0.json', bad);
      } catch (err) {
        code = err instanceof UpkeepError ? err.code : String(err);
      }
      expect(code).toBe('ERR_INSECURE_URL');
    }
    expect(release('https://updates.example/feed/manifests/1.0.0.json', '../blobs/x').items[0]).toMatchObject({ url: 'https://updates.example/feed/blobs/x' });
    // A local feed (file:) keeps naming local blobs.
    expect(release('file:///srv/feed/manifests/1.0.0.json', '../blobs/x').items[0]).toMatchObject({ url: 'file:///srv/feed/blobs/x' });
  });
});
