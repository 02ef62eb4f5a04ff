/**
 * The demo's feed server: loopback HTTP at a throttled rate, with Range so downloads resume; and
 * its build check: sources changed after the last build are built again before the demo starts.
 */
import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type Served = { url: string; close(): Promise<void> };
const load = async () =>
  (await import(pathToFileURL(path.join(process.cwd(), 'scripts/demo.mjs')).href)) as {
    serveThrottled: (dir: string, rate: number) => Promise<Served>;
    FEED_RATE: number;
    BIG_ASSET_BYTES: number;
    needsBuild: (built: string, dirs: string[]) => boolean;
  };

describe('demo feed server', () => {
  it('serves files at the given rate, honours Range and refuses paths outside its root', async () => {
    const { serveThrottled, FEED_RATE, BIG_ASSET_BYTES } = await load();
    expect(FEED_RATE).toBe(4 * 1024 * 1024);
    expect(BIG_ASSET_BYTES / FEED_RATE).toBeGreaterThanOrEqual(8);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-demo-feed-'));
    const data = randomBytes(512 * 1024);
    fs.mkdirSync(path.join(dir, 'blobs'));
    fs.writeFileSync(path.join(dir, 'blobs', 'x'), data);
    const served = await serveThrottled(dir, 1024 * 1024);
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const t0 = Date.now();
      const whole = Buffer.from(await (await fetch(`${served.url}blobs/x`)).arrayBuffer());
      const took = Date.now() - t0;
      expect(whole.equals(data)).toBe(true);
      expect(took).toBeGreaterThanOrEqual(400); // 512 KiB at 1 MiB/s
      const part = await fetch(`${served.url}blobs/x`, { headers: { range: 'bytes=500000-' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 500000-${data.length - 1}/${data.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(500000))).toBe(true);
      expect((await fetch(`${served.url}..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
      expect((await fetch(`${served.url}missing`)).status).toBe(404);
    } finally {
      await served.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo build check', () => {
  it('builds when the output is missing or a source under the given dirs is newer, not otherwise', async () => {
    const { needsBuild } = await load();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-demo-build-'));
    try {
      const src = path.join(dir, 'src-main', 'engine');
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(path.join(src, 'a.ts'), 'export {};');
      const built = path.join(dir, 'dist', 'bundle.js');
      expect(needsBuild(built, [path.join(dir, 'src-main')])).toBe(true);
      fs.mkdirSync(path.dirname(built));
      fs.writeFileSync(built, '');
      const t = Date.now() / 1000;
      fs.utimesSync(path.join(src, 'a.ts'), t - 60, t - 60);
      fs.utimesSync(built, t - 30, t - 30);
      expect(needsBuild(built, [path.join(dir, 'src-main'), path.join(dir, 'absent')])).toBe(false);
      // An edit (or a git pull) after the build, deep in the tree.
      fs.utimesSync(path.join(src, 'a.ts'), t, t);
      expect(needsBuild(built, [path.join(dir, 'src-main')])).toBe(true);
      // node_modules below a source dir does not count.
      fs.utimesSync(path.join(src, 'a.ts'), t - 60, t - 60);
      fs.mkdirSync(path.join(dir, 'src-main', 'node_modules'));
      fs.writeFileSync(path.join(dir, 'src-main', 'node_modules', 'x.js'), '');
      expect(needsBuild(built, [path.join(dir, 'src-main')])).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
